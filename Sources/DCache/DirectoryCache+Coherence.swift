// What the filesystem's event watcher needs to keep the cache coherent with
// changes made behind it, in the backing directory: find what an event names
// (a backing identity and handle, a parent and a name), drop exactly that,
// and, after lost events, list what the kernel may hold.

/// A name in a directory, as the kernel knows it: (parent node, name).
public struct EntryName: Hashable, Sendable {
    public var parent: NodeID
    public var name: [UInt8]

    public init(parent: NodeID, name: [UInt8]) {
        self.parent = parent
        self.name = name
    }
}

extension DirectoryCache {
    /// The node cached for `identity` whose handle is `handle`; nil if there
    /// is none (an identity whose file was replaced by another with the same
    /// inode number has another handle). Counts nothing, marks nothing.
    public func node(identity: BackingIdentity, handle: BackingFileHandle) -> NodeID? {
        let hash = Self.hash(identity)
        return identityTable.withStripe(hash) { stripe -> NodeID? in
            // Under the stripe the object can be neither freed nor moved.
            guard let raw = stripe.find(hash, { InodeObject($0).identity == identity }) else { return nil }
            let inode = InodeObject(raw)
            guard inode.reference.count != 0, inode.handleType == handle.type, inode.handle == handle else { return nil }
            return inode.nodeID
        }
    }

    /// The backing directory's entry (parent, name) changed behind the
    /// cache (created, removed, renamed): forgets the dentry, positive or
    /// negative, and counts an invalidation, so that a request that read the
    /// directory before the change and stores its answer afterwards stores
    /// it stale (`setDentry` checks the count under the same stripe lock).
    /// Returns the node the dentry named, if it was positive.
    @discardableResult
    public func invalidateChanged(parent: NodeID, name: [UInt8]) -> NodeID? {
        guard (try? name.withUnsafeBytes({ try Self.validate($0) })) != nil else { return nil }
        return name.withUnsafeBytes { name in
            let hash = DentryObject.hash(parent: parent, name: name)
            let (victim, child): (DentryObject?, NodeID?) = dentryTable.withStripe(hash) { stripe in
                attributeInvalidations.add(1, ordering: .relaxed)
                guard let raw = stripe.find(hash, { DentryObject($0).isLive(parent: parent, name: name, hash: hash) })
                else { return (nil, nil) }
                let dentry = DentryObject(raw)
                let child = dentry.child
                guard dentry.reference.tryFreeze() else {
                    // A request holds it: it expires now and goes later.
                    dentry.expiry = 0
                    return (nil, child)
                }
                stripe.remove(raw, hash: hash)
                return (dentry, child)
            }
            if let victim {
                counters.bump(.invalidations)
                releaseUnhashedDentry(victim, free: true)
            }
            return child
        }
    }

    /// Every inode the kernel holds by lookup count (the root it holds
    /// without one): after lost events, what the kernel must be told to drop.
    public func kernelHeldNodes() -> [NodeID] {
        var nodes: [NodeID] = []
        identityTable.forEachStripe { stripe in stripe.forEach { nodes.append(InodeObject($0).nodeID) } }
        return nodes.filter { (kernelLookups(of: $0) ?? 0) > 0 }
    }

    /// Every cached name whose directory the kernel holds: the names the
    /// kernel may hold too (it can only have looked a name up in a directory
    /// it holds), for a kernel that cannot drop all its names at once.
    public func namesInKernelHeldDirectories() -> [EntryName] {
        var names: [EntryName] = []
        dentryTable.forEachStripe { stripe in
            stripe.forEach { raw in
                let dentry = DentryObject(raw)
                names.append(EntryName(parent: dentry.parent, name: dentry.name))
            }
        }
        // The root is the kernel's without a lookup.
        return names.filter { $0.parent == .root || (kernelLookups(of: $0.parent) ?? 0) > 0 }
    }
}
