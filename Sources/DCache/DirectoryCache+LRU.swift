// The LRU baseline: the policy the page-targeted reclaim is measured
// against, evicting unused objects from the cold ends of two lists as the
// kernel's dcache and icache shrinkers do.

import CSlabSupport
import Glibc
import Slab

extension DirectoryCache {
    // MARK: The LRU baseline

    func pushLRU(_ inode: InodeObject) {
        guard inode.flags & InodeObject.onLRU == 0 else { return }
        inode.setFlags(InodeObject.onLRU)
        inodeLRU.withLock { $0.append(LRUEntry(object: inode.raw, key: inode.nodeID.rawValue, hash: 0)) }
    }

    /// Evicts from the cold ends, dentries and inodes in turn (the kernel
    /// runs its dcache and icache shrinkers side by side), until the page
    /// target is met or nothing more can go.
    func reclaimByLRU(target: Int, before: Int) -> Int {
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
}
