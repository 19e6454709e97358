import Slab

/// A request's reference to an inode: it pins the object to its address
/// until `release()`. Copying the value does not add a reference.
public struct InodeReference: @unchecked Sendable {
    let object: InodeObject
    unowned(unsafe) let cache: DirectoryCache

    init(_ object: InodeObject, cache: DirectoryCache) {
        self.object = object
        self.cache = cache
    }

    public var nodeID: NodeID { object.nodeID }
    public var generation: UInt64 { UInt64(cache.nodeTable.generation(of: nodeID)) }
    public var identity: BackingIdentity { object.identity }
    public var handle: BackingFileHandle { object.handle }
    /// `handle.type` without building the handle (an array) first.
    public var handleType: Int32 { object.handleType }
    /// The object's address (for `user.slabfs.object`).
    public var address: UnsafeMutableRawPointer { object.raw }
    public var count: UInt32 { object.reference.count }

    /// Ends the request's hold.
    public func release() {
        // Read while the reference still pins the object.
        let id = nodeID
        let unlinked = object.flags & InodeObject.unlinked != 0
        if cache.evictionPolicy == .lru && !unlinked {
            // The LRU must see the object before anyone can free it.
            cache.nodeTable.withSlot(id) { _ in
                if object.reference.release() == 1 { cache.inodeBecameUnused(object) }
            }
            return
        }
        if object.reference.release() == 1 && unlinked { cache.freeIfUnlinkedAndUnused(object.raw, id: id) }
    }
}
