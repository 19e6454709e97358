// Self-checks the tests call after mutations (swift-collections'
// _checkInvariants): list membership matches fill, every free slot is on
// exactly one free list, statistics add up.

extension SlabCache {
    /// Drains the thread caches, then describes every broken invariant.
    /// Empty means the cache is consistent.
    public func _invariantViolations() -> [String] {
        maintenance.withLock {
            drainThreadCaches()
            return lists.withLock { lists in
                var problems = lists.violations(reclaimable: configuration.reclaimable)
                let c = lists.counters
                let accounted = Int64(bitPattern: c[SlabCounter.allocations.rawValue])
                    - Int64(bitPattern: c[SlabCounter.frees.rawValue])
                    - Int64(bitPattern: c[SlabCounter.objectsReclaimed.rawValue])
                    - Int64(bitPattern: c[SlabCounter.kickFrees.rawValue])
                let magazineNet = threadCaches.withLock { caches in
                    caches.reduce(Int64(0)) {
                        $0 + Int64(bitPattern: $1.allocations)
                            - Int64(bitPattern: $1.frees)
                    }
                }
                if accounted + magazineNet != Int64(lists.objectsInUse) {
                    problems.append("counters say \(accounted + magazineNet) objects in use, lists hold \(lists.objectsInUse)")
                }
                return problems
            }
        }
    }

    /// Traps with the first broken invariant.
    public func _checkInvariants() {
        let problems = _invariantViolations()
        precondition(problems.isEmpty, "SlabCache(\(configuration.name)) invariants: \(problems.joined(separator: "; "))")
    }
}

extension SlabLists {
    func violations(reclaimable: Bool) -> [String] {
        var problems: [String] = []
        var seen = [Bool](repeating: false, count: Int(highWater))

        /// Returns the last slab of the list.
        @discardableResult
        func walk(_ head: Int32, _ kind: SlabListKind, _ label: String, expectCount: Int,
                  fill: (Int32) -> Bool) -> Int32 {
            var slab = head
            var previous = SlabLists.none
            var count = 0
            while slab != SlabLists.none {
                guard slab >= 0, slab < highWater, !seen[Int(slab)] else {
                    problems.append("\(label): slab \(slab) out of range or on two lists")
                    return previous
                }
                seen[Int(slab)] = true
                let d = descriptors[Int(slab)]
                if d.kind != kind { problems.append("\(label): slab \(slab) marked \(d.kind)") }
                if kind != .released && d.prev != previous { problems.append("\(label): slab \(slab) has a bad prev link") }
                if !fill(d.inUse) { problems.append("\(label): slab \(slab) holds \(d.inUse) objects") }
                previous = slab
                slab = d.next
                count += 1
            }
            if count != expectCount { problems.append("\(label): \(count) slabs, counted \(expectCount)") }
            return previous
        }

        let last = walk(fullHead, .full, "full list", expectCount: fullCount) { $0 == objectsPerSlab }
        if fullTail != last { problems.append("full list: tail \(fullTail), last slab \(last)") }
        var partialTotal = 0
        for bucket in 1..<max(1, Int(objectsPerSlab)) {
            var n = 0
            var slab = partialHeads[bucket]
            while slab != SlabLists.none && slab >= 0 && slab < highWater {
                n += 1
                slab = descriptors[Int(slab)].next
            }
            if n > 0 && bucket > Int(partialTop) { problems.append("partial bucket \(bucket) above the top \(partialTop)") }
            walk(partialHeads[bucket], .partial, "partial[\(bucket)]", expectCount: n) { $0 == Int32(bucket) }
            partialTotal += n
        }
        if partialTotal != partialCount { problems.append("partial lists hold \(partialTotal) slabs, counted \(partialCount)") }
        walk(emptyHead.pointee, .empty, "empty list", expectCount: emptyCount) { $0 == 0 }
        var released = 0
        var slab = releasedHead
        while slab != SlabLists.none && slab >= 0 && slab < highWater && released <= Int(highWater) {
            released += 1
            slab = descriptors[Int(slab)].next
        }
        walk(releasedHead, .released, "released stack", expectCount: released) { $0 == 0 }
        if isolatedCount != 0 { problems.append("\(isolatedCount) slabs left isolated") }
        if let lost = seen.firstIndex(of: false) { problems.append("slab \(lost) is on no list") }

        var inUseTotal = 0
        for slab in 0..<highWater {
            let d = descriptors[Int(slab)]
            inUseTotal += Int(d.inUse)
            var allocated = 0
            for slot in 0..<objectsPerSlab where isAllocated(slab: slab, slot: slot) {
                if slot >= d.carved { problems.append("slab \(slab) slot \(slot) allocated beyond carved \(d.carved)") }
                allocated += 1
            }
            if allocated != Int(d.inUse) { problems.append("slab \(slab): bitmap has \(allocated), inUse \(d.inUse)") }
            var onFreeList = Set<Int32>()
            var slot = d.freeHead
            while slot != SlabLists.none {
                guard slot >= 0, slot < d.carved, !onFreeList.contains(slot) else {
                    problems.append("slab \(slab): free list has slot \(slot) twice or out of range")
                    break
                }
                if isAllocated(slab: slab, slot: slot) { problems.append("slab \(slab): allocated slot \(slot) on the free list") }
                if reclaimable && ObjectReference(object(slab: slab, slot: slot)).count != 0 {
                    problems.append("slab \(slab): free slot \(slot) has a nonzero count")
                }
                onFreeList.insert(slot)
                slot = (object(slab: slab, slot: slot) + 4).load(as: Int32.self)
            }
            if onFreeList.count != Int(d.carved - d.inUse) {
                problems.append("slab \(slab): \(onFreeList.count) on the free list, expected \(d.carved - d.inUse)")
            }
        }
        if inUseTotal != objectsInUse { problems.append("slabs hold \(inUseTotal) objects, counted \(objectsInUse)") }
        return problems
    }
}
