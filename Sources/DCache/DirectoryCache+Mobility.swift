// The allocator's mobility callbacks (Lameter's SLUB defragmentation
// callbacks, 2007-2010: "get" and "kick"): during reclaim and compaction the
// allocator asks whether an object may go, and moves or frees it; the
// second-chance rule, and the inode lifetime steps they share.

import CSlabSupport
import Glibc
import Slab

extension DirectoryCache {
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
                // keep the names of inodes the kernel holds: a kernel drop needs them.
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
    var secondChanceEpoch: UInt16 { UInt16(truncatingIfNeeded: reclaimEpoch.load(ordering: .relaxed)) }

    /// True if the object is to be kept: its second chance (`ObjectHeader`).
    func spendsSecondChance(_ raw: UnsafeMutableRawPointer) -> Bool {
        ObjectHeader(raw).spendSecondChance(epoch: secondChanceEpoch)
    }

    /// The referenced bit is set, or this call spent it.
    func usedSinceLastCall(_ raw: UnsafeMutableRawPointer) -> Bool {
        ObjectHeader(raw).usedSince(epoch: secondChanceEpoch)
    }

    /// Whether the kernel holds the node (its dentry must then stay: dropping
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
}
