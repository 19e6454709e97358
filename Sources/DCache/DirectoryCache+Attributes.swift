// Cached attributes, their timeouts, and the stamp that keeps a read
// made before an invalidation from being stored as fresh.

import Slab

extension DirectoryCache {
    /// Cached attributes, and whether they are still within their timeout.
    public func attributes(of inode: InodeReference) -> (attributes: InodeAttributes, fresh: Bool) {
        nodeTable.withSlot(inode.nodeID) { _ in
            (inode.object.attributes, clock.isBefore(inode.object.attributesExpiry))
        }
    }

    /// Stores attributes read from the backing file. With `observed`, the
    /// stamp taken before that read, they are stored stale if any inode's
    /// attributes were invalidated since: a change made through the mount
    /// while the read was under way (another request thread) may postdate
    /// it, and the cache must not serve the older attributes as fresh.
    public func setAttributes(_ inode: InodeReference, _ attributes: InodeAttributes, timeout: Double,
                              observed: AttributeStamp? = nil) {
        let expiry = clock.expiry(after: timeout)
        nodeTable.withSlot(inode.nodeID) { _ in
            inode.object.storeAttributes(attributes, expiry: isCurrent(observed) ? expiry : 0)
        }
    }

    /// The mode last cached (fresh or not), nil if the node is not cached.
    public func cachedMode(of id: NodeID) -> UInt32? {
        nodeTable.withSlot(id) { slot in slot?.object.map { InodeObject($0).attributes.mode } }
    }

    /// Marks the attributes stale, so the next getattr asks the backing file.
    /// Returns the mode last cached (its file type is right, its permission
    /// bits as fresh as the attributes were), nil if the node is not cached.
    @discardableResult
    public func invalidateAttributes(_ id: NodeID) -> UInt32? {
        nodeTable.withSlot(id) { slot in
            // Under the slot's lock, as the check in `setAttributes` is: a
            // store either precedes this invalidation or sees its count.
            attributeInvalidations.add(1, ordering: .relaxed)
            guard let object = slot?.object else { return nil }
            let inode = InodeObject(object)
            inode.attributesExpiry = 0
            return inode.attributes.mode
        }
    }

    /// Take one before reading attributes from a backing file; pass it
    /// with what was read (`setAttributes`, `insert`).
    public var attributeStamp: AttributeStamp {
        AttributeStamp(invalidations: attributeInvalidations.load(ordering: .relaxed))
    }

    /// Call under the slot lock of the inode being stored.
    func isCurrent(_ stamp: AttributeStamp?) -> Bool {
        guard let stamp else { return true }
        return attributeInvalidations.load(ordering: .relaxed) == stamp.invalidations
    }
}

/// The cache's count of attribute invalidations at one moment. One count
/// for all inodes: a conflict is rare (two request threads, a change and a
/// read at once), and one that is not real costs one extra stat later.
public struct AttributeStamp: Sendable, Equatable {
    let invalidations: UInt64
}
