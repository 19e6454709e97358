// What the kernel holds, read without counting a hit or marking anything
// referenced: for the request path's invalidations, listings and the kernel
// cache limit.

extension DirectoryCache {
    /// Inodes the kernel holds by lookup count: the gauge behind
    /// `statistics().kernelHeldInodes`, without building the whole snapshot
    /// (the FUSE layer reads it after every reply when a kernel cache limit
    /// is set).
    public var kernelHeldInodes: Int { counters.value(.kernelHeld) }

    /// The node a cached, valid, positive dentry names, without counting a
    /// hit or marking anything referenced: for invalidating the attributes
    /// of an inode that unlink or rename changed.
    public func cachedChild(of parent: NodeID, name: [UInt8]) -> NodeID? {
        guard (try? name.withUnsafeBytes({ try Self.validate($0) })) != nil else { return nil }
        return child(of: parent, name: name)
    }

    /// Whether the kernel holds the inode a cached, positive dentry names,
    /// in two calls (`cachedChild`, then `kernelLookups`): the reference
    /// the tests hold the one-pass `kernelHoldsChild(of:nameBytes:)` to,
    /// so it must not be written in terms of it. Counts no hit and marks
    /// nothing referenced.
    public func kernelHoldsChild(of parent: NodeID, name: [UInt8]) -> Bool {
        guard let child = cachedChild(of: parent, name: name) else { return false }
        return (kernelLookups(of: child) ?? 0) > 0
    }

    /// `kernelHoldsChild(of:name:)` in one pass, for a listing's every
    /// entry: the name read in place (no array), the dentry found under its
    /// stripe and the child's lookup count read under its node-table slot
    /// inside it (the lock order), so the child cannot be freed and its id
    /// reissued between the two. Counts no hit, marks nothing referenced,
    /// and like `cachedChild` looks at no expiry: an invalid name, no
    /// dentry or a negative one is false.
    public func kernelHoldsChild(of parent: NodeID, nameBytes name: UnsafeRawBufferPointer) -> Bool {
        guard (try? Self.validate(name)) != nil else { return false }
        let hash = DentryObject.hash(parent: parent, name: name)
        return dentryTable.withStripe(hash) { stripe in
            guard let raw = stripe.find(hash, { DentryObject($0).isLive(parent: parent, name: name, hash: hash) }),
                  let child = DentryObject(raw).child else { return false }
            return nodeTable.withSlot(child) { slot in
                guard let object = slot?.object else { return false }
                return InodeObject(object).kernelLookups > 0
            }
        }
    }

    /// The kernel-cache-limit thread's clock: `requestKernelDrops` with a second
    /// chance for entries used since its last call.
    @discardableResult
    public func requestKernelDropsSecondChance(max limit: Int) -> Int {
        requestKernelDrops(max: limit, secondChance: true)
    }
}
