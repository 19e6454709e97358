// An inode's lifetime: found or created by identity, pinned by stable
// references (the kernel's lookups, open handles, names), freed when
// unlinked and unused.

import Slab

extension DirectoryCache {
    /// The inode with this id, with a request reference; nil if unknown.
    public func inode(_ id: NodeID) -> InodeReference? {
        nodeTable.withSlot(id) { slot in
            guard let object = slot?.object, ObjectReference(object).tryRetain() else { return nil }
            return InodeReference(InodeObject(object), cache: self)
        }
    }

    /// The root, created once with its id 1, pinned for the cache's life.
    public func insertRoot(identity: BackingIdentity, handle: BackingFileHandle,
                           attributes: InodeAttributes) throws -> InodeReference {
        let reference = try findOrCreateInode(identity: identity, handle: handle, attributes: attributes,
                                              attributeTimeout: 0, reservedID: .root)
        precondition(reference.nodeID == .root, "the root must be the first inode")
        addStableReference(to: .root)
        return reference
    }

    /// Finds the inode of a backing identity (hard links share it), or
    /// creates it; returns it with a request reference and fresh attributes.
    func findOrCreateInode(identity: BackingIdentity, handle: BackingFileHandle, attributes: InodeAttributes,
                           attributeTimeout: Double, observed: AttributeStamp? = nil,
                           reservedID: NodeID? = nil) throws -> InodeReference {
        // The inode stores the device in 32 bits (the kernel's new_encode_dev
        // range: major < 4096, minor < 2^20 — every device this machine has).
        guard identity.device <= UInt64(UInt32.max) else { throw DCacheError.deviceNumberTooLarge(identity.device) }
        let hash = Self.hash(identity)
        let expiry = clock.expiry(after: attributeTimeout)
        if let existing = findInode(identity, hash: hash) {
            nodeTable.withSlot(existing.nodeID) { _ in
                existing.storeAttributes(attributes, expiry: isCurrent(observed) ? expiry : 0)
            }
            existing.setFlags(InodeObject.referenced)
            return InodeReference(existing, cache: self)
        }
        guard let (id, _) = nodeTable.issue(reserving: reservedID) else { throw DCacheError.outOfNodeIDs }
        guard let raw = inodes.allocate() else {
            nodeTable.recycle(id)
            throw DCacheError.outOfMemory
        }
        var longHandle: UnsafeMutableRawPointer?
        if InodeObject.needsLongHandle(handle) {
            longHandle = longHandles.allocate()
            if longHandle == nil {
                inodes.free(raw)
                nodeTable.recycle(id)
                throw DCacheError.outOfMemory
            }
        }
        // A new inode's attributes stay fresh whatever `observed` says: no
        // change through the mount can have reached a file it had no inode for.
        let inode = InodeObject(raw)
        inode.initialize(nodeID: id, identity: identity, handle: handle,
                         longHandle: longHandle, attributes: attributes, expiry: expiry)
        inode.reference.setCount(2)  // the cache's own and the caller's
        let winner: InodeObject? = nodeTable.withSlot(id) { slot in
            identityTable.withStripe(hash) { stripe in
                // Another thread may have created it meanwhile: use theirs.
                if let other = stripe.find(hash, { InodeObject($0).identity == identity }),
                   ObjectReference(other).tryRetain() {
                    return InodeObject(other)
                }
                slot!.object = raw
                stripe.insert(raw, hash: hash)
                if evictionPolicy == .lru { pushLRU(inode) }
                return nil
            }
        }
        if let winner {
            inode.reference.setCount(0)
            if let longHandle { longHandles.free(longHandle) }
            inodes.free(raw)
            nodeTable.recycle(id)
            nodeTable.withSlot(winner.nodeID) { _ in
                winner.storeAttributes(attributes, expiry: isCurrent(observed) ? expiry : 0)
            }
            return InodeReference(winner, cache: self)
        }
        counters.bump(.inodesCreated)
        noteGrowth()
        return InodeReference(inode, cache: self)
    }

    private func findInode(_ identity: BackingIdentity, hash: UInt32) -> InodeObject? {
        identityTable.withStripe(hash) { stripe in
            guard let object = stripe.find(hash, { InodeObject($0).identity == identity }),
                  ObjectReference(object).tryRetain() else { return nil }
            return InodeObject(object)
        }
    }

    static func hash(_ identity: BackingIdentity) -> UInt32 {
        var h = identity.inode &* 0x9E37_79B9_7F4A_7C15 ^ identity.device &* 0xC2B2_AE3D_27D4_EB4F
        h ^= h >> 29
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }

    /// Adds a stable reference to a live inode (a dentry, an open handle,
    /// the kernel). Returns false if the inode is not cached.
    @discardableResult
    func addStableReference(to id: NodeID) -> Bool {
        nodeTable.withSlot(id) { slot in
            guard let object = slot?.object, ObjectReference(object).tryRetain() else { return false }
            InodeObject(object).stable += 1
            return true
        }
    }

    func dropStableReference(to id: NodeID) {
        let unlinked: UnsafeMutableRawPointer? = nodeTable.withSlot(id) { slot in
            guard let object = slot?.object else {
                preconditionFailure("DCache: dropping a reference to uncached node \(id)")
            }
            let inode = InodeObject(object)
            precondition(inode.stable > 0, "DCache: node \(id) has no stable reference to drop")
            inode.stable -= 1
            guard inode.reference.release() == 1 else { return nil }
            if inode.flags & InodeObject.unlinked != 0 { return object }
            inodeBecameUnused(inode)
            return nil
        }
        if let unlinked { freeIfUnlinkedAndUnused(unlinked, id: id) }
    }

    /// The backing name (parent, name) of `id` was removed: if that was its
    /// last link (a directory, or a file whose cached link count was 1), the
    /// inode goes as soon as nothing holds it, instead of waiting, unused,
    /// for reclaim. Call after `remove`/`invalidate` of the name.
    public func markUnlinked(_ id: NodeID) {
        let unusedNow: UnsafeMutableRawPointer? = nodeTable.withSlot(id) { slot in
            guard let object = slot?.object else { return nil }
            let inode = InodeObject(object)
            let attributes = inode.attributes
            guard attributes.isDirectory || attributes.nlink <= 1 else { return nil }
            inode.setFlags(InodeObject.unlinked)
            return inode.reference.count == 1 ? object : nil
        }
        if let unusedNow { freeIfUnlinkedAndUnused(unusedNow, id: id) }
    }

    /// Frees an unlinked inode nobody holds (won 1 -> 0 under its stripe).
    func freeIfUnlinkedAndUnused(_ raw: UnsafeMutableRawPointer, id: NodeID) {
        let victim: InodeObject? = nodeTable.withSlot(id) { slot in
            guard slot?.object == raw else { return nil }
            let inode = InodeObject(raw)
            guard inode.flags & InodeObject.unlinked != 0, inode.reference.tryFreeze() else { return nil }
            slot!.object = nil
            let hash = Self.hash(inode.identity)
            identityTable.withStripe(hash) { _ = $0.remove(raw, hash: hash) }
            return inode
        }
        guard let victim else { return }
        counters.bump(.evictedInodes)
        counters.bump(.evictionsUnlinked)
        retire(victim)
        inodes.free(raw)
    }

    /// The kernel's LRU takes an inode when its last user lets go. Called
    /// under the inode's node stripe: once that is released, an unused inode
    /// may be reclaimed at any moment.
    func inodeBecameUnused(_ inode: InodeObject) {
        guard evictionPolicy == .lru else { return }
        pushLRU(inode)
    }

    /// The policy, readable without a lock on every release.
    var evictionPolicy: EvictionPolicy { policyWord.load(ordering: .relaxed) == 0 ? .page : .lru }
}
