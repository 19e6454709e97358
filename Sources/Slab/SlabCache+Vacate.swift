// Targeted reclaim of one slab (kmem_cache_vacate of Lameter's slab defragmentation, 2007) and
// defragmentation of the partial list (kmem_cache_shrink of the 2007 targeted-reclaim RFC).

/// What vacating one slab did.
public struct VacateResult: @unchecked Sendable, Equatable {
    /// The slab holds no object any more and its pages were given back.
    public var emptied = false
    public var moved = 0
    public var freed = 0
    /// Objects that stayed: refused by `kick`, without mobility, or caught
    /// being freed or initialised by their owner.
    public var refused: [UnsafeMutableRawPointer] = []

    public init() {}
}

/// What one shrink did.
public struct ShrinkResult: Sendable, Equatable, Codable {
    /// Kept-back empty slabs given back.
    public var emptySlabsReleased = 0
    public var slabsVacated = 0
    public var slabsEmptied = 0
    public var moved = 0
    public var freed = 0
    public var refused = 0
    public var pagesFreed = 0

    public init() {}
}

/// Where an object sits: for `user.slabfs.object` and for choosing a slab to
/// vacate.
public struct ObjectLocation: Sendable, Equatable, Codable {
    public var slab: Int
    public var pageAddress: UInt
    public var slot: Int
}

extension SlabCache {
    public func location(of object: UnsafeRawPointer) -> ObjectLocation? {
        lists.withLock { lists in
            guard let (slab, slot) = lists.locate(object) else { return nil }
            return ObjectLocation(slab: Int(slab), pageAddress: UInt(bitPattern: lists.slabBase(slab)),
                                  slot: Int(slot))
        }
    }

    /// Empties the slab holding `object` through the mobility callbacks:
    /// objects move into free slots of other partial slabs or are freed.
    public func vacate(slabContaining object: UnsafeRawPointer) -> VacateResult {
        guard let location = location(of: object) else { return VacateResult() }
        return vacate(slab: location.slab)
    }

    public func vacate(slab: Int) -> VacateResult {
        maintenance.withLock {
            drainThreadCaches()
            return vacateLocked(Int32(slab), destinationsNoSparserThanSource: false) ?? VacateResult()
        }
    }

    /// Gives back every kept-back empty slab, then compacts: the sparsest
    /// partial slab filled below `configuration.shrinkFillRatio` is vacated
    /// into the fullest ones, again and again, while the slabs at least as full
    /// have room for all of its objects. Objects move rather than being freed
    /// whenever there is room (the partial lists are kept sorted by fill, so
    /// there is nothing to sort first).
    public func shrink() -> ShrinkResult {
        shrink(fillBelow: configuration.shrinkFillRatio)
    }

    /// `shrink()` with another fill threshold: 1.0 compacts every partial
    /// slab whose objects fit elsewhere (for an owner that wants pages back
    /// and would rather move objects than free them).
    public func shrink(fillBelow ratio: Double) -> ShrinkResult {
        maintenance.withLock {
            drainThreadCaches()
            let pagesPerSlab = configuration.slabSize / systemPageSize
            var result = ShrinkResult()
            let limit: Int32 = lists.withLock { lists in
                lists.bump(.shrinks)
                result.emptySlabsReleased = lists.releaseEmptySlabs()
                return Int32((min(max(ratio, 0), 1) * Double(lists.objectsPerSlab)).rounded(.up))
            }
            var tried = Set<Int32>()
            while let slab = lists.withLock({ $0.compactionSource(below: limit, skipping: tried) }) {
                tried.insert(slab)
                guard let vacated = vacateLocked(slab, destinationsNoSparserThanSource: true,
                                                 onlyIfBelow: limit) else { continue }
                result.slabsVacated += 1
                result.moved += vacated.moved
                result.freed += vacated.freed
                result.refused += vacated.refused.count
                if vacated.emptied { result.slabsEmptied += 1 }
            }
            result.pagesFreed = (result.emptySlabsReleased + result.slabsEmptied) * pagesPerSlab
            return result
        }
    }

    /// Vacates one slab; the caller holds `maintenance` and has drained the
    /// thread caches. With `destinationsNoSparserThanSource`, objects move
    /// only into slabs at least as full as this one (so density rises).
    /// Returns nil, doing nothing, if the slab is not in use or holds
    /// `onlyIfBelow` objects or more.
    func vacateLocked(_ slab: Int32, destinationsNoSparserThanSource: Bool,
                      onlyIfBelow limit: Int32 = .max) -> VacateResult? {
        var result = VacateResult()
        let isolated: (objects: [UnsafeMutableRawPointer], inUse: Int32)? = lists.withLock { lists in
            guard slab >= 0, slab < lists.highWater, lists.descriptors[Int(slab)].inUse < limit else { return nil }
            lists.bump(.vacates)
            switch lists.descriptors[Int(slab)].kind {
            case .full, .partial:
                lists.unlink(slab)
                return (lists.allocatedObjects(of: slab), lists.descriptors[Int(slab)].inUse)
            case .empty:
                lists.unlink(slab)
                return ([], 0)
            case .released, .isolated:
                return nil
            }
        }
        guard let isolated else { return nil }
        let floor = destinationsNoSparserThanSource ? isolated.inUse : 1

        var leaving: [UnsafeMutableRawPointer] = []
        var unusedDestinations: [UnsafeMutableRawPointer] = []
        var kicks = 0
        for object in isolated.objects {
            switch evict(object, slab: slab, destinationFloor: floor, unusedDestinations: &unusedDestinations) {
            case .moved:
                result.moved += 1
                leaving.append(object)
            case .freed:
                result.freed += 1
                leaving.append(object)
            case .refused:
                result.refused.append(object)
            }
            if callbacks.mobility != nil { kicks += 1 }
        }

        lists.withLock { lists in
            for object in leaving + unusedDestinations { lists.give(back: object) }
            result.emptied = lists.place(slab, keepEmpty: false)
            if result.emptied { lists.bump(.vacatesSucceeded) }
            lists.bump(.kicks, by: kicks)
            lists.bump(.moves, by: result.moved)
            lists.bump(.kickFrees, by: result.freed)
            lists.bump(.refusals, by: result.refused.count)
        }
        return result
    }

    /// Asks one object to leave: through mobility get/kick when the cache
    /// has it, else by freeing it if it is unused.
    private func evict(_ object: UnsafeMutableRawPointer, slab: Int32, destinationFloor: Int32,
                       unusedDestinations: inout [UnsafeMutableRawPointer]) -> KickOutcome {
        guard let mobility = callbacks.mobility else {
            guard configuration.reclaimable, ObjectReference(object).tryFreeze() else { return .refused }
            callbacks.destructor?(object)
            return .freed
        }
        guard mobility.get(object) else { return .refused }
        let destination = lists.withLock {
            $0.takeDestination(notSparserThan: destinationFloor, excluding: slab)
        }
        let outcome = mobility.kick(object, destination)
        if outcome != .moved, let destination { unusedDestinations.append(destination) }
        precondition(outcome != .moved || destination != nil, "kick moved an object without a destination")
        return outcome
    }
}
