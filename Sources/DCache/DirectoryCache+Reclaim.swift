// Eviction: the page policy (page-targeted reclaim through the allocator,
// then compaction by moving objects) and the LRU baseline (the kernel's
// dcache/icache shrinkers), behind one `reclaim(pages:)`.

import CSlabSupport
import Glibc
import Slab

/// An entry the cache wants the kernel to drop (so that it sends FORGET).
public struct KickRequest: Equatable, Sendable {
    public var parent: NodeID
    public var name: [UInt8]
}

/// What one reclaim call did, over all four caches.
public struct ReclaimReport: Equatable, Sendable, Codable {
    public var policy: String = ""
    public var source: String = ""
    public var pagesWanted = 0
    public var pagesFreed = 0
    public var inodesEvicted = 0
    public var dentriesEvicted = 0
    public var moves = 0
    public var kicksRequested = 0
    public var rounds = 0
    public var milliseconds = 0.0

    public var evicted: Int { inodesEvicted + dentriesEvicted }
    public var evictedPerPage: Double { pagesFreed == 0 ? 0 : Double(evicted) / Double(pagesFreed) }
}

extension DirectoryCache {
    public enum EvictionPolicy: String, Sendable, Codable, CaseIterable {
        /// Page-targeted reclaim over the slabs (Lameter's SLAB_RECLAIM proposal, 2006), with recency.
        case page
        /// The baseline: evict unused objects from the cold end of an LRU.
        case lru
    }

    public enum PressureSource: String, Sendable, Codable, CaseIterable {
        case budget, psi, explicit
    }

    /// Frees at least `target` pages if it can, under the policy in force;
    /// when it falls short, asks for kicks of entries only the kernel holds
    /// (unless `mayKick` is false). Safe while lookups, inserts and removes
    /// run on other threads.
    ///
    /// An explicit request (`.explicit`: `user.slabfs.reclaim`, `slabfs
    /// reclaim`) frees what it asks for when it is free to take, as the
    /// kernel's drop_caches loops its shrinkers until they stop making
    /// progress: the first pass frees objects not used since the last call
    /// and spends the others' second chances; further passes, each a new
    /// call for recency, take those too, until the target is met or a pass
    /// frees nothing. So recency still decides the order: the hot set goes
    /// last, and only when the request cannot be met without it. Budget and
    /// PSI reclaim stay one pass (their pressure comes back if it persists).
    @discardableResult
    public func reclaim(pages target: Int, source: PressureSource = .explicit, mayKick: Bool = true) -> ReclaimReport {
        reclaimLock.withLock {
            counters.bump(source.counter)
            let start = clock.nanoseconds()
            var report = reclaimPass(target: target, source: source)
            var passes = 1
            while source == .explicit && report.pagesFreed < target && passes < Self.explicitPassLimit {
                let more = reclaimPass(target: target - report.pagesFreed, source: source)
                passes += 1
                report.pagesFreed += more.pagesFreed
                report.inodesEvicted += more.inodesEvicted
                report.dentriesEvicted += more.dentriesEvicted
                report.moves += more.moves
                report.rounds += more.rounds
                if more.pagesFreed == 0 && more.evicted == 0 { break }
            }
            report.pagesWanted = target
            if report.pagesFreed < target && mayKick {
                report.kicksRequested = requestKicks(max: settings.withLock { $0.kicksPerPass })
            }
            report.milliseconds = Double(clock.nanoseconds() - start) / 1e6
            settings.withLock { $0.lastReclaim = report }
            return report
        }
    }

    /// Passes an explicit request makes at most: the second takes what the
    /// first protected; a third takes what concurrent use protected again.
    static let explicitPassLimit = 4

    /// One reclaim call: a new recency epoch, one walk under the policy.
    private func reclaimPass(target: Int, source: PressureSource) -> ReclaimReport {
        let (policy, migrate) = settings.withLock { ($0.eviction, $0.migrate) }
        // A new epoch: second chances spent in earlier calls expire.
        var epoch = reclaimEpoch.load(ordering: .relaxed) &+ 1
        if epoch & 0xFFFF == 0 { epoch &+= 1 }
        reclaimEpoch.store(epoch, ordering: .relaxed)
        counters.bump(.reclaimPasses)
        let before = residentPages
        let evictedBefore = (counters.value(.evictedInodes), counters.value(.evictedDentries))
        let movesBefore = counters.value(.moves)
        var report = ReclaimReport(policy: policy.rawValue + (policy == .page && migrate ? "+migrate" : ""),
                                   source: source.rawValue, pagesWanted: target)
        switch policy {
        case .page: report.rounds = reclaimByPage(target: target, migrate: migrate, before: before)
        case .lru: report.rounds = reclaimByLRU(target: target, before: before)
        }
        report.pagesFreed = max(0, before - residentPages)
        report.inodesEvicted = counters.value(.evictedInodes) - evictedBefore.0
        report.dentriesEvicted = counters.value(.evictedDentries) - evictedBefore.1
        report.moves = counters.value(.moves) - movesBefore
        counters.bump(.pagesReclaimed, by: report.pagesFreed)
        return report
    }

    /// Without migration: one walk over the dentry slabs, then the inode
    /// slabs (a freed dentry unpins its inode): the SLAB_RECLAIM proposal's reclaim (Lameter, 2006), with
    /// recency. With migration: `reclaimByCompaction`.
    private func reclaimByPage(target: Int, migrate: Bool, before: Int) -> Int {
        if migrate { return reclaimByCompaction(target: target, before: before) }
        let remaining = { max(1, target - (before - self.residentPages)) }
        _ = dentries.reclaim(pages: remaining())
        _ = inodes.reclaim(pages: remaining())
        return 1
    }

    /// Compaction first: pages that moves alone can free cost no eviction.
    /// Then each round evicts only what the rest of the target needs once
    /// the survivors are packed (each cache's share of the pages still
    /// wanted, in proportion to its pages), every unused object of the
    /// oldest slabs first, dentries before inodes (a freed dentry unpins its
    /// inode); and compacts again. Recency still holds: a referenced object
    /// keeps its slot for the whole call.
    ///
    /// The walk this replaces freed a couple of objects per slab per round
    /// (the SLAB_RECLAIM proposal's circulation) and compacted only slabs below 30%: dozens of
    /// rounds, each rescanning every slab and moving the same survivors again
    /// (111,000 moves for 84,000 survivors on the 100,000-file mount), and it
    /// evicted before trying compaction.
    private func reclaimByCompaction(target: Int, before: Int) -> Int {
        compactForReclaim()
        var rounds = 0
        while before - residentPages < target && rounds < 8 {
            rounds += 1
            let roundStart = residentPages
            let caches = [dentries, inodes]
            let statistics = caches.map { $0.statistics() }
            let pages = statistics.reduce(0) { $0 + $1.pages }
            guard pages > 0 else { break }
            // At most everything (a target of Int.max means "all you can").
            let wanted = min(target - (before - residentPages), pages)
            for (cache, st) in zip(caches, statistics) where st.pages > 0 {
                let share = (wanted * st.pages + pages - 1) / pages
                let slabsKept = max(0, st.totalSlabs - (share + st.pagesPerSlab - 1) / st.pagesPerSlab)
                let excess = st.activeObjects - slabsKept * st.objectsPerSlab
                if excess > 0 { _ = cache.reclaim(pages: .max, objects: excess, perSlab: .max) }
            }
            compactForReclaim()
            if residentPages >= roundStart { break }
        }
        return rounds
    }

    /// Compaction for a reclaim call: every partial slab whose objects fit
    /// elsewhere is vacated (moving beats evicting: a move costs no miss).
    private func compactForReclaim() {
        _ = dentries.shrink(fillBelow: 1)
        _ = inodes.shrink(fillBelow: 1)
        _ = longNames.reclaim(pages: 0)
        _ = longHandles.reclaim(pages: 0)
    }

    /// Compaction alone: moves survivors of sparse slabs into dense ones.
    @discardableResult
    public func compact() -> CompactionReport {
        reclaimLock.withLock {
            let before = residentPages
            let movesBefore = counters.value(.moves)
            let d = dentries.shrink()
            let i = inodes.shrink()
            _ = longNames.reclaim(pages: 0)
            _ = longHandles.reclaim(pages: 0)
            return CompactionReport(pagesFreed: max(0, before - residentPages),
                                    moves: counters.value(.moves) - movesBefore,
                                    slabsVacated: d.slabsVacated + i.slabsVacated,
                                    slabsEmptied: d.slabsEmptied + i.slabsEmptied)
        }
    }

    // MARK: Callbacks the allocator calls during reclaim and compaction

    func dentryCallbacks() -> SlabCache.Callbacks {
        SlabCache.Callbacks(
            destructor: { [unowned self] raw in
                // Reclaim won 1 -> 0: unpublish, then drop references.
                let dentry = DentryObject(raw)
                dentryTable.withStripe(dentry.hash) { _ = $0.remove(raw, hash: dentry.hash) }
                counters.bump(.evictedDentries)
                counters.bump(.evictionsReclaim)
                releaseUnhashedDentry(dentry, free: false)
            },
            shouldReclaim: { [unowned self] raw in
                // Second chance for a dentry used since the last call; and
                // keep the names of inodes the kernel holds: a kick needs them.
                let dentry = DentryObject(raw)
                return !spendsSecondChance(raw) && !isKernelHeld(dentry.child)
            },
            mobility: SlabCache.Mobility(
                get: { [unowned self] raw in
                    let dentry = DentryObject(raw)
                    return dentryTable.withStripe(dentry.hash) { _ in dentry.reference.tryRetain() }
                },
                kick: { [unowned self] raw, destination in
                    moveOrFreeDentry(DentryObject(raw), to: destination.map(DentryObject.init))
                }))
    }

    private func moveOrFreeDentry(_ dentry: DentryObject, to destination: DentryObject?) -> SlabCache.KickOutcome {
        let hash = dentry.hash
        let outcome: SlabCache.KickOutcome = dentryTable.withStripe(hash) { stripe in
            // Count 2: the cache's own and the mover's. Anything more is a
            // request in flight, which pins the object to its address.
            guard dentry.reference.tryFreeze(expected: 2) else {
                dentry.reference.release()
                return .refused
            }
            if let destination {
                dentry.copy(to: destination)
                destination.reference.setCount(1)
                stripe.replace(dentry.raw, with: destination.raw, hash: hash)
                requeueMoved(destination, hash: hash)
                return .moved
            }
            guard !isKernelHeld(dentry.child) else {
                dentry.reference.setCount(1)
                return .refused
            }
            stripe.remove(dentry.raw, hash: hash)
            return .freed
        }
        switch outcome {
        case .moved: counters.bump(.moves)
        case .freed:
            counters.bump(.evictedDentries)
            counters.bump(.evictionsCompaction)
            releaseUnhashedDentry(dentry, free: false)
        case .refused: break
        }
        return outcome
    }

    func inodeCallbacks() -> SlabCache.Callbacks {
        SlabCache.Callbacks(
            destructor: { [unowned self] raw in
                let inode = InodeObject(raw)
                unpublish(inode)
                counters.bump(.evictedInodes)
                counters.bump(.evictionsReclaim)
            },
            shouldReclaim: { [unowned self] raw in
                !spendsSecondChance(raw)
            },
            mobility: SlabCache.Mobility(
                get: { [unowned self] raw in
                    let inode = InodeObject(raw)
                    return nodeTable.withSlot(inode.nodeID) { _ in inode.reference.tryRetain() }
                },
                kick: { [unowned self] raw, destination in
                    moveOrFreeInode(InodeObject(raw), to: destination.map(InodeObject.init))
                }))
    }

    private func moveOrFreeInode(_ inode: InodeObject, to destination: InodeObject?) -> SlabCache.KickOutcome {
        let id = inode.nodeID
        let hash = Self.hash(inode.identity)
        let outcome: SlabCache.KickOutcome = nodeTable.withSlot(id) { slot in
            identityTable.withStripe(hash) { stripe in
                let stable = inode.stable
                // Only stable references (kernel, handles, dentries) and the
                // mover's: no request holds the address.
                if let destination, inode.reference.tryFreeze(expected: stable + 2) {
                    inode.copy(to: destination)
                    destination.reference.setCount(stable + 1)
                    slot!.object = destination.raw
                    stripe.replace(inode.raw, with: destination.raw, hash: hash)
                    if destination.flags & InodeObject.onLRU != 0 {
                        // The queued entry names the old address and will be
                        // dropped as stale; queue the new one.
                        inodeLRU.withLock { $0.append(LRUEntry(object: destination.raw, key: id.rawValue, hash: 0)) }
                    }
                    return .moved
                }
                if stable == 0, inode.reference.tryFreeze(expected: 2) {
                    slot!.object = nil
                    stripe.remove(inode.raw, hash: hash)
                    return .freed
                }
                inode.reference.release()
                return .refused
            }
        }
        switch outcome {
        case .moved: counters.bump(.moves)
        case .freed:
            counters.bump(.evictedInodes)
            counters.bump(.evictionsCompaction)
            retire(inode)
        case .refused: break
        }
        return outcome
    }

    /// A moved dentry's queue entries name its old address; queue the new one
    /// (the old entries are dropped as stale when they come up).
    private func requeueMoved(_ dentry: DentryObject, hash: UInt32) {
        let entry = LRUEntry(object: dentry.raw, key: dentry.parent.rawValue, hash: hash)
        if dentry.child == nil { negativeQueue.withLock { $0.append(entry) } }
        if dentry.flags & DentryObject.onLRU != 0 { dentryLRU.withLock { $0.append(entry) } }
    }

    /// The epoch second chances are spent in during this call (see
    /// `ObjectHeader.spendSecondChance`).
    private var secondChanceEpoch: UInt16 { UInt16(truncatingIfNeeded: reclaimEpoch.load(ordering: .relaxed)) }

    /// True if the object is to be kept: its second chance (`ObjectHeader`).
    private func spendsSecondChance(_ raw: UnsafeMutableRawPointer) -> Bool {
        ObjectHeader(raw).spendSecondChance(epoch: secondChanceEpoch)
    }

    /// The referenced bit is set, or this call spent it.
    private func usedSinceLastCall(_ raw: UnsafeMutableRawPointer) -> Bool {
        ObjectHeader(raw).usedSince(epoch: secondChanceEpoch)
    }

    /// Whether the kernel holds the node (its dentry must then stay: kicking
    /// the kernel's copy needs the name).
    func isKernelHeld(_ id: NodeID?) -> Bool {
        guard let id else { return false }
        return nodeTable.withSlot(id) { slot in
            slot?.object.map { InodeObject($0).kernelLookups > 0 } ?? false
        }
    }

    /// Takes a frozen inode (count 0, ours) out of both tables and retires
    /// its id.
    func unpublish(_ inode: InodeObject) {
        let id = inode.nodeID
        let hash = Self.hash(inode.identity)
        nodeTable.withSlot(id) { slot in
            if slot?.object == inode.raw { slot!.object = nil }
            identityTable.withStripe(hash) { _ = $0.remove(inode.raw, hash: hash) }
        }
        retire(inode)
    }

    /// Recycles the id (new generation) and frees the long handle.
    func retire(_ inode: InodeObject) {
        nodeTable.recycle(inode.nodeID)
        if let longHandle = inode.longHandleObject { longHandles.free(longHandle) }
    }

    // MARK: The LRU baseline

    func pushLRU(_ inode: InodeObject) {
        guard inode.flags & InodeObject.onLRU == 0 else { return }
        inode.setFlags(InodeObject.onLRU)
        inodeLRU.withLock { $0.append(LRUEntry(object: inode.raw, key: inode.nodeID.rawValue, hash: 0)) }
    }

    /// Evicts from the cold ends, dentries and inodes in turn (the kernel
    /// runs its dcache and icache shrinkers side by side), until the page
    /// target is met or nothing more can go.
    private func reclaimByLRU(target: Int, before: Int) -> Int {
        var rounds = 0
        // Entries looked at since the last eviction: a full turn of both
        // lists without one means nothing more can go.
        var fruitless = 0
        while before - residentPages < target {
            rounds += 1
            let gone = evictDentriesFromLRU(batch: 128) + evictInodesFromLRU(batch: 64)
            fruitless = gone > 0 ? 0 : fruitless + 192
            if fruitless > lruLength { break }
        }
        return rounds
    }

    private var lruLength: Int {
        dentryLRU.withLock { $0.count } + inodeLRU.withLock { $0.count }
    }

    private func evictDentriesFromLRU(batch: Int) -> Int {
        var evicted = 0
        for _ in 0..<batch {
            guard let entry = dentryLRU.withLock({ $0.popFirst() }) else { break }
            enum Verdict { case gone, requeue, evicted(DentryObject) }
            let verdict: Verdict = dentryTable.withStripe(entry.hash) { stripe in
                guard stripe.find(entry.hash, { $0 == entry.object }) != nil else { return .gone }
                let dentry = DentryObject(entry.object)
                if dentry.clearFlags(DentryObject.referenced) || isKernelHeld(dentry.child) { return .requeue }
                guard dentry.reference.tryFreeze() else { return .requeue }
                stripe.remove(entry.object, hash: entry.hash)
                return .evicted(dentry)
            }
            switch verdict {
            case .gone: break
            case .requeue: dentryLRU.withLock { $0.append(entry) }
            case .evicted(let dentry):
                counters.bump(.evictedDentries)
                counters.bump(.evictionsLRU)
                releaseUnhashedDentry(dentry, free: true)
                evicted += 1
            }
        }
        return evicted
    }

    private func evictInodesFromLRU(batch: Int) -> Int {
        var evicted = 0
        for _ in 0..<batch {
            guard let entry = inodeLRU.withLock({ $0.popFirst() }) else { break }
            let id = NodeID(entry.key)
            enum Verdict { case gone, requeue, inUse, evicted(InodeObject) }
            let verdict: Verdict = nodeTable.withSlot(id) { slot in
                guard slot?.object == entry.object else { return .gone }
                let inode = InodeObject(entry.object)
                if inode.clearFlags(InodeObject.referenced) { return .requeue }
                guard inode.reference.tryFreeze() else {
                    // In use: off the LRU until its last user lets go.
                    inode.clearFlags(InodeObject.onLRU)
                    return .inUse
                }
                slot!.object = nil
                let hash = Self.hash(inode.identity)
                identityTable.withStripe(hash) { _ = $0.remove(inode.raw, hash: hash) }
                return .evicted(inode)
            }
            switch verdict {
            case .gone, .inUse: break
            case .requeue: inodeLRU.withLock { $0.append(entry) }
            case .evicted(let inode):
                counters.bump(.evictedInodes)
                counters.bump(.evictionsLRU)
                retire(inode)
                inodes.free(inode.raw)
                evicted += 1
            }
        }
        return evicted
    }

    // MARK: Kicks

    /// Asks the owner to make the kernel drop up to `max` entries whose
    /// inodes only the kernel keeps (no handle open, no second name, not a
    /// directory, not recently used), so that FORGET unpins them. With
    /// `secondChance`, an entry or inode used since the last call has its
    /// referenced bit cleared and is passed over only this time: the clock a
    /// kernel cache limit runs, since without reclaim nothing else clears
    /// those bits. Returns how many were requested.
    @discardableResult
    public func requestKicks(max limit: Int, secondChance: Bool = false) -> Int {
        guard limit > 0, let handler = kickHandler else { return 0 }
        var requests: [KickRequest] = []
        dentryTable.forEachStripe { stripe in
            guard requests.count < limit else { return }
            stripe.forEach { raw in
                guard requests.count < limit else { return }
                let dentry = DentryObject(raw)
                guard let child = dentry.child else { return }
                // Without secondChance (after a reclaim walk), an object whose
                // bit that walk just spent was used since the last call too:
                // kicking it would send the kernel's hot entries away.
                let dentryUsed = secondChance ? dentry.clearFlags(DentryObject.referenced)
                                              : usedSinceLastCall(raw)
                let onlyKernel: Bool = nodeTable.withSlot(child) { slot in
                    guard let object = slot?.object else { return false }
                    let inode = InodeObject(object)
                    // Held by the kernel and this one dentry, by nothing else.
                    guard inode.kernelLookups > 0, !inode.attributes.isDirectory, inode.stable == 2 else {
                        return false
                    }
                    let inodeUsed = secondChance ? inode.clearFlags(InodeObject.referenced)
                                                 : usedSinceLastCall(object)
                    return !inodeUsed
                }
                if onlyKernel && !dentryUsed { requests.append(KickRequest(parent: dentry.parent, name: dentry.name)) }
            }
        }
        guard !requests.isEmpty else { return 0 }
        counters.bump(.kicksRequested, by: requests.count)
        handler(requests)
        return requests.count
    }
}

/// What one compaction did.
public struct CompactionReport: Equatable, Sendable, Codable {
    public var pagesFreed = 0
    public var moves = 0
    public var slabsVacated = 0
    public var slabsEmptied = 0
}
