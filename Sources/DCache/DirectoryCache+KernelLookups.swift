// The kernel's lookup counts (LOOKUP replies in, FORGET out) and open
// handles: what pins an inode on the kernel's behalf.

import Slab

extension DirectoryCache {
    /// Counts lookups the kernel is about to be told of (a LOOKUP, CREATE,
    /// MKDIR, ... reply or a readdirplus entry). Call before replying: the
    /// kernel may send FORGET at once.
    public func kernelLookup(_ inode: InodeReference, count: UInt64 = 1) {
        nodeTable.withSlot(inode.nodeID) { _ in
            let object = inode.object
            if object.kernelLookups == 0 {
                object.stable += 1
                object.reference.retain()
                counters.bump(.kernelHeld)
            }
            // Saturates (see InodeObject.kernelLookups).
            object.kernelLookups = UInt32(min(UInt64(object.kernelLookups) + count, UInt64(UInt32.max)))
        }
    }

    /// FORGET: the kernel dropped `count` lookups of `id`.
    public func forget(_ id: NodeID, count: UInt64) {
        if forgetOne(id, count: count) { noteUnpinned() }
    }

    /// BATCH_FORGET.
    public func forget(bulk items: [(NodeID, UInt64)]) {
        var unpinned = false
        for (id, count) in items { unpinned = forgetOne(id, count: count) || unpinned }
        if unpinned { noteUnpinned() }
    }

    /// Whether the kernel let go of the inode (`noteUnpinned`).
    private func forgetOne(_ id: NodeID, count: UInt64) -> Bool {
        let dropped: Bool = nodeTable.withSlot(id) { slot in
            guard let object = slot?.object else { return false }
            let inode = InodeObject(object)
            guard inode.kernelLookups > 0, inode.kernelLookups < UInt32.max else { return false }
            inode.kernelLookups -= UInt32(min(count, UInt64(inode.kernelLookups)))
            return inode.kernelLookups == 0
        }
        if dropped {
            counters.bump(.kernelHeld, by: -1)
            dropStableReference(to: id)
        }
        return dropped
    }

    /// An open file or directory handle holds the inode (by id, never by
    /// address).
    public func openHandle(_ inode: InodeReference) {
        let added = addStableReference(to: inode.nodeID)
        precondition(added, "openHandle on an inode the caller does not hold")
    }

    public func closeHandle(_ id: NodeID) {
        dropStableReference(to: id)
    }

    /// The kernel's lookup count of a node (for `user.slabfs.object`).
    public func kernelLookups(of id: NodeID) -> UInt64? {
        nodeTable.withSlot(id) { slot in slot?.object.map { UInt64(InodeObject($0).kernelLookups) } }
    }
}
