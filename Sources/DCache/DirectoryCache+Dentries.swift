import DequeModule
import Slab

/// What a dentry lookup found.
public enum LookupResult {
    /// The name exists; the inode comes with a request reference.
    case hit(InodeReference)
    /// The name is known not to exist (a negative dentry, still valid).
    case negative
    /// Not cached, or expired: ask the backing directory.
    case miss
}

extension DirectoryCache {
    static func validate(_ name: UnsafeRawBufferPointer) throws(DCacheError) {
        guard name.count <= DentryObject.maximumNameLength else { throw .nameTooLong(name.count) }
        guard !name.isEmpty, !name.contains(0x2F), !name.contains(0) else { throw .invalidName }
    }

    /// Looks (parent, name) up. A hit takes a reference on the child inode
    /// under the dentry's stripe lock, so it can be neither freed nor moved
    /// before the caller holds it.
    public func lookup(parent: NodeID, name: [UInt8]) -> LookupResult {
        name.withUnsafeBytes { name in
            let hash = DentryObject.hash(parent: parent, name: name)
            let result: LookupResult = dentryTable.withStripe(hash) { stripe in
                guard let raw = stripe.find(hash, { DentryObject($0).isLive(parent: parent, name: name, hash: hash) })
                else { return .miss }
                let dentry = DentryObject(raw)
                guard clock.isBefore(dentry.expiry) else { return .miss }
                guard let child = dentry.child else {
                    dentry.setFlags(DentryObject.referenced)
                    return .negative
                }
                guard let inode = inode(child) else { return .miss }
                dentry.setFlags(DentryObject.referenced)
                inode.object.setFlags(InodeObject.referenced)
                return .hit(inode)
            }
            switch result {
            case .hit: counters.bump(.hits)
            case .negative: counters.bump(.negativeHits)
            case .miss: counters.bump(.misses)
            }
            return result
        }
    }

    /// Records that (parent, name) names the backing file `identity`: finds
    /// or creates its inode (hard links share one) and points the dentry at
    /// it, replacing what the name pointed at before. The parent must be
    /// cached (the kernel holds it, or the caller does). `observed`: as in
    /// `setAttributes`.
    ///
    /// An inode found by `identity` whose file handle is not `handle` was
    /// another file: its inode number was freed and handed to a new file
    /// while the old one was still cached. The old inode leaves the identity
    /// table (whoever holds it keeps it, and finds it stale) and the name
    /// gets a new inode.
    public func insert(parent: NodeID, name: [UInt8], identity: BackingIdentity, handle: BackingFileHandle,
                       attributes: InodeAttributes, entryTimeout: Double, attributeTimeout: Double,
                       observed: AttributeStamp? = nil) throws -> InodeReference
    {
        try name.withUnsafeBytes { try Self.validate($0) }
        var inode = try findOrCreateInode(identity: identity, handle: handle, attributes: attributes,
                                          attributeTimeout: attributeTimeout, observed: observed)
        if inode.handle != handle {
            unhashIdentity(of: inode)
            inode.release()
            inode = try findOrCreateInode(identity: identity, handle: handle, attributes: attributes,
                                          attributeTimeout: attributeTimeout, observed: observed)
        }
        do {
            try setDentry(parent: parent, name: name, child: inode.nodeID, timeout: entryTimeout, observed: observed)
        } catch {
            inode.release()
            throw error
        }
        return inode
    }

    /// Records that (parent, name) does not exist, for `timeout` seconds.
    /// Beyond `negativeLimit` negative dentries, the oldest go.
    public func insertNegative(parent: NodeID, name: [UInt8], timeout: Double, observed: AttributeStamp? = nil) throws {
        try name.withUnsafeBytes { try Self.validate($0) }
        try setDentry(parent: parent, name: name, child: nil, timeout: timeout, observed: observed)
        trimNegativeDentries()
    }

    /// The name is gone (unlink, rmdir, or found missing): the dentry turns
    /// negative, as the kernel's d_delete does, dropping its hold on the
    /// child inode.
    public func remove(parent: NodeID, name: [UInt8], negativeTimeout: Double = 0) {
        guard (try? name.withUnsafeBytes({ try Self.validate($0) })) != nil else { return }
        if negativeTimeout > 0 {
            _ = try? setDentry(parent: parent, name: name, child: nil, timeout: negativeTimeout)
            trimNegativeDentries()
        } else {
            invalidate(parent: parent, name: name)
        }
        counters.bump(.invalidations)
    }

    /// Forgets the dentry entirely (the kernel's d_invalidate). An entry in
    /// use by a concurrent request is left to expire instead.
    public func invalidate(parent: NodeID, name: [UInt8]) {
        name.withUnsafeBytes { name in
            let hash = DentryObject.hash(parent: parent, name: name)
            let victim: DentryObject? = dentryTable.withStripe(hash) { stripe in
                guard let raw = stripe.find(hash, { DentryObject($0).isLive(parent: parent, name: name, hash: hash) })
                else { return nil }
                let dentry = DentryObject(raw)
                guard dentry.reference.tryFreeze() else {
                    dentry.expiry = 0
                    return nil
                }
                stripe.remove(raw, hash: hash)
                return dentry
            }
            if let victim { releaseUnhashedDentry(victim, free: true) }
        }
    }

    /// rename(2) has happened in the backing directory: the new name now
    /// names what the old one did; with `exchange`, and the other way round.
    public func rename(from source: (parent: NodeID, name: [UInt8]), to target: (parent: NodeID, name: [UInt8]),
                       exchange: Bool, entryTimeout: Double) {
        // Held, not just named: reclaim could otherwise free a child (and
        // its id be reissued) between reading it and repointing the name.
        let sourceChild = retainedChild(of: source.parent, name: source.name)
        let targetChild = retainedChild(of: target.parent, name: target.name)
        defer {
            sourceChild?.release()
            targetChild?.release()
        }
        if let sourceChild,
           (try? setDentry(parent: target.parent, name: target.name, child: sourceChild.nodeID,
                           timeout: entryTimeout)) == true {
        } else {
            invalidate(parent: target.parent, name: target.name)
        }
        if exchange, let targetChild,
           (try? setDentry(parent: source.parent, name: source.name, child: targetChild.nodeID,
                           timeout: entryTimeout)) == true {
        } else {
            invalidate(parent: source.parent, name: source.name)
        }
    }

    /// The inode a live, positive dentry names, with a reference taken while
    /// the dentry's own still keeps it cached (under the dentry's stripe).
    func retainedChild(of parent: NodeID, name: [UInt8]) -> InodeReference? {
        name.withUnsafeBytes { name in
            let hash = DentryObject.hash(parent: parent, name: name)
            return dentryTable.withStripe(hash) { stripe in
                guard let raw = stripe.find(hash, { DentryObject($0).isLive(parent: parent, name: name, hash: hash) }),
                      let id = DentryObject(raw).child else { return nil }
                return nodeTable.withSlot(id) { slot in
                    guard let object = slot?.object, ObjectReference(object).tryRetain() else { return nil }
                    return InodeReference(InodeObject(object), cache: self)
                }
            }
        }
    }

    /// The node a cached, valid, positive dentry names.
    func child(of parent: NodeID, name: [UInt8]) -> NodeID? {
        name.withUnsafeBytes { name in
            let hash = DentryObject.hash(parent: parent, name: name)
            return dentryTable.withStripe(hash) { stripe in
                stripe.find(hash, { DentryObject($0).isLive(parent: parent, name: name, hash: hash) })
                    .flatMap { DentryObject($0).child }
            }
        }
    }

    /// Creates or repoints the dentry (parent, name). A dentry holds a
    /// stable reference on its parent and, when positive, on its child.
    /// Returns false, changing nothing, if `child` is no longer cached (a
    /// caller that holds no reference on it can lose it to reclaim).
    @discardableResult
    func setDentry(parent: NodeID, name: [UInt8], child: NodeID?, timeout: Double,
                   observed: AttributeStamp? = nil) throws -> Bool {
        let freshExpiry = clock.expiry(after: timeout)
        return try name.withUnsafeBytes { name in
            let hash = DentryObject.hash(parent: parent, name: name)
            let outcome: (set: Bool, created: Bool) = try dentryTable.withStripe(hash) { stripe in
                // Checked under the stripe `invalidateChanged` bumps the count
                // under: a name read from the backing directory before a
                // change it has since been told of is stored stale.
                let expiry = isCurrent(observed) ? freshExpiry : 0
                if let raw = stripe.find(hash, { DentryObject($0).isLive(parent: parent, name: name, hash: hash) }) {
                    let dentry = DentryObject(raw)
                    let old = dentry.child
                    if old != child, let child, !addStableReference(to: child) { return (false, false) }
                    dentry.expiry = expiry
                    dentry.setFlags(DentryObject.referenced)
                    if old != child {
                        dentry.child = child
                        if let old { dropStableReference(to: old) }
                        if old == nil { counters.bump(.negativeDentries, by: -1) }
                        if child == nil {
                            // Turned negative (a remove): queued like a new
                            // one, or the limit would never reach it.
                            counters.bump(.negativeDentries)
                            negativeQueue.withLock { $0.append(LRUEntry(object: raw, key: parent.rawValue, hash: hash)) }
                        }
                    }
                    return (true, false)
                }
                guard addStableReference(to: parent) else { throw DCacheError.parentNotCached(parent) }
                if let child, !addStableReference(to: child) {
                    dropStableReference(to: parent)
                    return (false, false)
                }
                let dropReferences = {
                    if let child { self.dropStableReference(to: child) }
                    self.dropStableReference(to: parent)
                }
                guard let raw = dentries.allocate() else {
                    dropReferences()
                    throw DCacheError.outOfMemory
                }
                var longName: UnsafeMutableRawPointer?
                if name.count > DentryObject.inlineNameBytes {
                    guard let memory = longNames.allocate() else {
                        dentries.free(raw)
                        dropReferences()
                        throw DCacheError.outOfMemory
                    }
                    longName = memory
                }
                let dentry = DentryObject(raw)
                dentry.initialize(parent: parent, name: name, hash: hash, child: child, longName: longName,
                                  expiry: expiry)
                dentry.reference.setCount(1)
                stripe.insert(raw, hash: hash)
                counters.bump(.inserts)
                if child == nil { counters.bump(.negativeDentries) }
                // Queued under the stripe lock: once it is released the new
                // dentry may be reclaimed or moved at any time.
                let entry = LRUEntry(object: raw, key: parent.rawValue, hash: hash)
                if child == nil { negativeQueue.withLock { $0.append(entry) } }
                if evictionPolicy == .lru {
                    dentry.setFlags(DentryObject.onLRU)
                    dentryLRU.withLock { $0.append(entry) }
                }
                return (true, true)
            }
            if outcome.created { noteGrowth() }
            return outcome.set
        }
    }

    /// Entries in the negative queue, stale ones included (for tests).
    public var negativeQueueLength: Int { negativeQueue.withLock { $0.count } }

    /// Drops the stale entries of the negative queue when they far outnumber
    /// the negative dentries. Entries of dentries since turned positive,
    /// removed or moved stay queued until popped, and the trim pops only
    /// above the limit: creating a file leaves one (its name's lookup missed
    /// first), so without this the queue grew by 24 bytes with every file
    /// made. Amortised O(1): it runs when stale entries are more than half.
    func pruneNegativeQueue() {
        let live = max(0, counters.value(.negativeDentries))
        let taken: Deque<LRUEntry>? = negativeQueue.withLock { queue in
            guard queue.count > 2 * live + 1024 else { return nil }
            defer { queue = Deque() }
            return queue
        }
        guard let taken else { return }
        // Checked as the trim checks, each under its stripe (never under the
        // queue's lock, which is taken inside stripes). A dentry queued more
        // than once (negative again after a remove, or its slot reused)
        // keeps its latest entry only.
        var seen = Set<UnsafeMutableRawPointer>()
        let kept = taken.reversed().filter { entry in
            seen.insert(entry.object).inserted && dentryTable.withStripe(entry.hash) { stripe in
                stripe.find(entry.hash, { $0 == entry.object }) != nil && DentryObject(entry.object).child == nil
            }
        }.reversed()
        negativeQueue.withLock { queue in
            // Older than anything queued meanwhile: in front. A new deque, so
            // the old storage goes.
            var rebuilt = Deque<LRUEntry>(minimumCapacity: kept.count + queue.count)
            rebuilt.append(contentsOf: kept)
            rebuilt.append(contentsOf: queue)
            queue = rebuilt
        }
    }

    /// A dentry that has left its table (its count is 0 and it is ours):
    /// drop its references, then free it unless the allocator will.
    func releaseUnhashedDentry(_ dentry: DentryObject, free: Bool) {
        if let child = dentry.child {
            dropStableReference(to: child)
        } else {
            counters.bump(.negativeDentries, by: -1)
        }
        dropStableReference(to: dentry.parent)
        if let longName = dentry.longNameObject { longNames.free(longName) }
        if free { dentries.free(dentry.raw) }
    }

    /// Evicts the oldest negative dentries beyond the cap, so that lookups
    /// of missing names cannot grow memory without bound.
    func trimNegativeDentries() {
        pruneNegativeQueue()
        let limit = settings.withLock { $0.negativeLimit }
        while counters.value(.negativeDentries) > limit {
            guard let entry = negativeQueue.withLock({ $0.popFirst() }) else { return }
            let victim: DentryObject? = dentryTable.withStripe(entry.hash) { stripe in
                // Stale entries (freed, moved, turned positive) are skipped.
                guard stripe.find(entry.hash, { $0 == entry.object }) != nil else { return nil }
                let dentry = DentryObject(entry.object)
                guard dentry.child == nil, dentry.reference.tryFreeze() else { return nil }
                stripe.remove(entry.object, hash: entry.hash)
                return dentry
            }
            if let victim {
                counters.bump(.evictionsNegativeLimit)
                releaseUnhashedDentry(victim, free: true)
            }
        }
    }
}
