// Page-targeted reclaim (kmem_cache_reclaim of Lameter's SLAB_RECLAIM proposal, 2006): walk the slabs, not
// an object LRU, so that the objects freed are the ones whose pages can go.

/// What one reclaim pass did.
public struct ReclaimResult: Sendable, Equatable, Codable {
    /// Kernel pages given back (slabs freed times pages per slab).
    public var pagesFreed = 0
    public var slabsFreed = 0
    /// Unused objects freed through the destructor.
    public var objectsFreed = 0
    public var slabsScanned = 0

    public init() {}
}

extension SlabCache {
    /// Frees at least `pages` pages if it can. Kept-back empty slabs go
    /// first (they are free memory already); then full slabs, oldest first,
    /// then partial slabs, sparsest first. A slab whose objects are all unused
    /// is freed whole; in a slab with objects in use at most
    /// `configuration.circulation` unused objects are freed, so that hot
    /// objects gather in long-lived slabs over time.
    ///
    /// Only a reclaimable cache frees objects; any cache releases its empty
    /// slabs. Safe while other threads allocate, free and take references.
    public func reclaim(pages target: Int) -> ReclaimResult {
        maintenance.withLock { reclaimLocked(pages: target) }
    }

    /// The same walk, stopping after `objects` objects freed, and freeing up
    /// to `perSlab` unused objects from a slab with objects in use instead of
    /// `configuration.circulation`. For an owner that compacts afterwards:
    /// it frees the number of objects that compaction needs to free the pages
    /// it wants, from the oldest slabs, in one walk instead of a couple of
    /// objects per slab per walk.
    public func reclaim(pages target: Int, objects: Int, perSlab: Int) -> ReclaimResult {
        maintenance.withLock { reclaimLocked(pages: target, objects: objects, perSlab: perSlab) }
    }

    func reclaimLocked(pages target: Int, objects maxObjects: Int = .max, perSlab: Int? = nil) -> ReclaimResult {
        let perSlab = perSlab ?? configuration.circulation
        drainThreadCaches()
        let pagesPerSlab = configuration.slabSize / systemPageSize
        var result = ReclaimResult()
        let order: [Int32] = lists.withLock { lists in
            lists.bump(.reclaimPasses)
            result.slabsFreed = lists.releaseEmptySlabs()
            return configuration.reclaimable ? lists.reclaimOrder() : []
        }
        result.pagesFreed = result.slabsFreed * pagesPerSlab

        for slab in order where result.pagesFreed < target && result.objectsFreed < maxObjects {
            guard let carved = isolateForReclaim(slab) else { continue }
            result.slabsScanned += 1
            let freed = freeUnusedObjects(of: slab, carved: carved, perSlab: perSlab,
                                          atMost: maxObjects - result.objectsFreed)
            let released = lists.withLock { lists in
                for object in freed { lists.give(back: object) }
                return lists.place(slab, keepEmpty: false)
            }
            result.objectsFreed += freed.count
            if released {
                result.slabsFreed += 1
                result.pagesFreed += pagesPerSlab
            }
        }
        lists.withLock { lists in
            lists.bump(.slabsScanned, by: result.slabsScanned)
            lists.bump(.objectsReclaimed, by: result.objectsFreed)
            lists.bump(.pagesReclaimed, by: result.pagesFreed)
        }
        return result
    }

    /// Takes a full or partial slab off its list; returns its carved slot
    /// count, or nil if it is no longer a candidate.
    private func isolateForReclaim(_ slab: Int32) -> Int32? {
        lists.withLock { lists in
            let kind = lists.descriptors[Int(slab)].kind
            guard kind == .full || kind == .partial else { return nil }
            lists.unlink(slab)
            return lists.descriptors[Int(slab)].carved
        }
    }

    /// Wins CAS 1 -> 0 on the slab's unused objects (all of them if none is in
    /// use, else up to `circulation`) and runs the destructor on each. Runs
    /// without the lists lock: reading the count of a slot that is free, or
    /// freed meanwhile, reads 0 and is skipped.
    private func freeUnusedObjects(of slab: Int32, carved: Int32, perSlab: Int,
                                   atMost: Int) -> [UnsafeMutableRawPointer] {
        let base = lists.withLock { $0.slabBase(slab) }
        let stride = configuration.objectStride
        var unused: [UnsafeMutableRawPointer] = []
        var inUse = 0
        for slot in 0..<Int(carved) {
            let object = base + slot * stride
            switch ObjectReference(object).count {
            case 0: break
            case 1: unused.append(object)
            default: inUse += 1
            }
        }
        // An object its owner wants kept this pass (recently used) blocks
        // freeing the slab whole just as one in use does.
        var willing = unused
        if let shouldReclaim = callbacks.shouldReclaim {
            if inUse == 0 {
                willing = unused.filter { shouldReclaim($0) }
            } else {
                willing = []
                for object in unused where willing.count < min(perSlab, atMost) {
                    if shouldReclaim(object) { willing.append(object) }
                }
            }
        }
        let limit = min(atMost, inUse == 0 && willing.count == unused.count ? willing.count : perSlab)
        var freed: [UnsafeMutableRawPointer] = []
        for object in willing where freed.count < limit {
            guard ObjectReference(object).tryFreeze() else { continue }
            callbacks.destructor?(object)
            freed.append(object)
        }
        return freed
    }
}
