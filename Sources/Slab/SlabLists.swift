import CSlabSupport

/// Which list a slab is on. Raw value 0 is what zeroed memory reads as.
enum SlabListKind: UInt8 {
    /// Never used, or its pages were given back: on the `released` stack (or
    /// beyond the high-water mark).
    case released = 0
    case empty
    case partial
    case full
    /// Held by a reclaim pass or vacate: on no list, not allocated from.
    case isolated
}

/// The metadata of one slab, kept outside the slab (the kernel's `struct page`).
struct SlabDescriptor {
    var next: Int32
    var prev: Int32
    /// Slots handed out, thread-cached ones included.
    var inUse: Int32
    /// Slots at or beyond this index have not been handed out since the slab
    /// was last released; they are free without being on the free list.
    var carved: Int32
    /// First slot of the free list; -1 when empty. Links live in the objects.
    var freeHead: Int32
    var kind: SlabListKind
}

/// Counters, one enumeration incremented in one place (`bump`), printed by
/// `SlabStatistics`.
public enum SlabCounter: Int, CaseIterable, Sendable {
    case allocations
    case frees
    case slabsAllocated
    case slabsReleased
    case reclaimPasses
    case pagesReclaimed
    case objectsReclaimed
    case slabsScanned
    case kicks
    case moves
    case kickFrees
    case refusals
    case vacates
    case vacatesSucceeded
    case shrinks
    case threadCacheDrains
}

/// The slab lists and all raw memory behind them: the unsafe handle. Every
/// method runs under the cache's `lists` mutex; nothing else touches
/// descriptors, bitmaps or free-list links.
struct SlabLists: @unchecked Sendable {
    static let none: Int32 = -1

    let region: PageRegion
    let base: UnsafeMutableRawPointer
    let descriptorRegion: PageRegion
    let bitmapRegion: PageRegion
    /// Holds the resident-slab count, the partial bucket heads and the
    /// empty-list head.
    let headsRegion: PageRegion
    /// Slabs holding pages, as an atomic word others may read without the
    /// lock (a memory budget polls it on every insert).
    let residentSlabs: UnsafeMutableRawPointer
    let descriptors: UnsafeMutablePointer<SlabDescriptor>
    /// One bit per slot, set while the slot is handed out.
    let bitmap: UnsafeMutablePointer<UInt64>
    let bitmapWordsPerSlab: Int
    /// partialHeads[k]: partial slabs with k objects in use.
    let partialHeads: UnsafeMutablePointer<Int32>
    /// Kept-back empty slabs (a pointer, like the partial heads, so that list
    /// helpers need no exclusive access to `self`).
    let emptyHead: UnsafeMutablePointer<Int32>

    let slabSize: Int
    /// log2(slabSize): the slab of an offset is a shift, not a division.
    let slabShift: Int
    let objectStride: Int
    let objectsPerSlab: Int32
    let slabCapacity: Int32
    let emptySlabsKept: Int

    var fullHead: Int32 = none
    var fullTail: Int32 = none
    var releasedHead: Int32 = none
    /// Slabs below this index have had a descriptor initialised.
    var highWater: Int32 = 0
    /// No partial bucket above this is occupied.
    var partialTop: Int32 = 0

    var fullCount = 0
    var partialCount = 0
    var emptyCount = 0
    var isolatedCount = 0
    /// Objects handed out by the lists (thread-cached ones included).
    var objectsInUse = 0
    var counters = [UInt64](repeating: 0, count: SlabCounter.allCases.count)

    init(_ configuration: SlabCache.Configuration) throws(SlabError) {
        slabSize = configuration.slabSize
        slabShift = configuration.slabSize.trailingZeroBitCount
        objectStride = configuration.objectStride
        objectsPerSlab = Int32(configuration.objectsPerSlab)
        slabCapacity = Int32(configuration.reservedBytes / configuration.slabSize)
        emptySlabsKept = configuration.emptySlabsKept
        let capacity = Int(configuration.reservedBytes / configuration.slabSize)
        let words = (configuration.objectsPerSlab + 63) / 64
        let region = try PageRegion(byteCount: capacity * configuration.slabSize)
        let descriptorRegion = try PageRegion(byteCount: capacity * MemoryLayout<SlabDescriptor>.stride)
        let bitmapRegion = try PageRegion(byteCount: capacity * words * 8)
        descriptors = descriptorRegion.base.bindMemory(to: SlabDescriptor.self, capacity: capacity)
        bitmap = bitmapRegion.base.bindMemory(to: UInt64.self, capacity: capacity * words)
        base = region.base
        self.region = region
        self.descriptorRegion = descriptorRegion
        self.bitmapRegion = bitmapRegion
        bitmapWordsPerSlab = words
        let heads = Int(objectsPerSlab) + 2
        headsRegion = try PageRegion(byteCount: 8 + heads * MemoryLayout<Int32>.stride)
        residentSlabs = headsRegion.base
        partialHeads = (headsRegion.base + 8).bindMemory(to: Int32.self, capacity: heads)
        partialHeads.initialize(repeating: SlabLists.none, count: heads)
        emptyHead = partialHeads + Int(objectsPerSlab) + 1
    }

    mutating func bump(_ counter: SlabCounter, by amount: Int = 1) {
        counters[counter.rawValue] &+= UInt64(amount)
    }

    // MARK: Addresses

    func slabBase(_ slab: Int32) -> UnsafeMutableRawPointer {
        base + Int(slab) * slabSize
    }

    func object(slab: Int32, slot: Int32) -> UnsafeMutableRawPointer {
        slabBase(slab) + Int(slot) * objectStride
    }

    /// The slab and slot of an address, or nil if it is not the start of a
    /// slot of this cache.
    func locate(_ object: UnsafeRawPointer) -> (slab: Int32, slot: Int32)? {
        let offset = object - UnsafeRawPointer(base)
        guard offset >= 0, offset < Int(highWater) * slabSize else { return nil }
        let slab = offset >> slabShift
        let within = offset & (slabSize - 1)
        let slot = within / objectStride
        guard slot * objectStride == within, slot < Int(objectsPerSlab) else { return nil }
        return (Int32(slab), Int32(slot))
    }

    func isAllocated(slab: Int32, slot: Int32) -> Bool {
        let word = bitmap[Int(slab) * bitmapWordsPerSlab + Int(slot) / 64]
        return word & (1 << UInt64(slot % 64)) != 0
    }

    private func setAllocated(slab: Int32, slot: Int32, _ allocated: Bool) {
        let index = Int(slab) * bitmapWordsPerSlab + Int(slot) / 64
        let bit: UInt64 = 1 << UInt64(slot % 64)
        if allocated { bitmap[index] |= bit } else { bitmap[index] &= ~bit }
    }

    private func freeLink(_ object: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Int32> {
        (object + 4).assumingMemoryBound(to: Int32.self)
    }

    private func clearCount(_ object: UnsafeMutableRawPointer) {
        // A lock-free reclaim scan may be reading this word: store atomically.
        ObjectReference(object).setCount(0)
    }

    // MARK: Taking and returning objects

    /// Hands out up to `buffer.count` objects, fullest partial slab first,
    /// then kept-back empty slabs, then new ones. Returns how many it gave.
    mutating func take(into buffer: UnsafeMutableBufferPointer<UnsafeMutableRawPointer>) -> Int {
        var given = 0
        while given < buffer.count {
            guard let slab = slabToAllocateFrom() else { break }
            unlink(slab)
            given += carve(slab, into: UnsafeMutableBufferPointer(rebasing: buffer[given...]))
            place(slab)
        }
        objectsInUse += given
        return given
    }

    /// Takes free slots from one slab (free list first, then uncarved ones).
    private mutating func carve(_ slab: Int32,
                                into buffer: UnsafeMutableBufferPointer<UnsafeMutableRawPointer>) -> Int {
        var given = 0
        while given < buffer.count, descriptors[Int(slab)].inUse < objectsPerSlab {
            let slot: Int32
            if descriptors[Int(slab)].freeHead != SlabLists.none {
                slot = descriptors[Int(slab)].freeHead
                descriptors[Int(slab)].freeHead = freeLink(object(slab: slab, slot: slot)).pointee
            } else {
                slot = descriptors[Int(slab)].carved
                descriptors[Int(slab)].carved += 1
            }
            precondition(!isAllocated(slab: slab, slot: slot), "slab \(slab): free list holds an allocated slot")
            setAllocated(slab: slab, slot: slot, true)
            descriptors[Int(slab)].inUse += 1
            buffer[given] = object(slab: slab, slot: slot)
            given += 1
        }
        return given
    }

    /// Takes one free slot from a slab a maintenance pass chose (a move's
    /// destination). The slab must be partial.
    mutating func takeDestination(notSparserThan inUse: Int32, excluding source: Int32)
        -> UnsafeMutableRawPointer?
    {
        var bucket = partialTop
        while bucket >= max(inUse, 1) {
            var slab = partialHeads[Int(bucket)]
            while slab != SlabLists.none {
                if slab != source { break }
                slab = descriptors[Int(slab)].next
            }
            if slab != SlabLists.none {
                var destination = UnsafeMutableRawPointer(bitPattern: 1)!
                let given = withUnsafeMutablePointer(to: &destination) {
                    unlink(slab)
                    let n = carve(slab, into: UnsafeMutableBufferPointer(start: $0, count: 1))
                    place(slab)
                    return n
                }
                if given == 1 {
                    objectsInUse += 1
                    return destination
                }
            }
            bucket -= 1
        }
        return nil
    }

    /// Returns one object to its slab. Traps on an address that is not an
    /// allocated slot of this cache: freeing a foreign or freed pointer would
    /// otherwise corrupt the lists silently.
    mutating func give(back object: UnsafeMutableRawPointer) {
        guard let (slab, _) = locate(object) else {
            preconditionFailure("SlabCache.free: \(object) is not an object of this cache")
        }
        if descriptors[Int(slab)].kind == .isolated {
            giveBackToIsolated(object, slab: slab)
        } else {
            unlink(slab)
            giveBackToIsolated(object, slab: slab)
            place(slab)
        }
    }

    /// Puts an object on its slab's free list; the slab is off every list.
    private mutating func giveBackToIsolated(_ object: UnsafeMutableRawPointer, slab: Int32) {
        let slot = Int32((object - slabBase(slab)) / objectStride)
        precondition(slot < descriptors[Int(slab)].carved && isAllocated(slab: slab, slot: slot),
                     "SlabCache.free: \(object) is not allocated (double free?)")
        setAllocated(slab: slab, slot: slot, false)
        clearCount(object)
        freeLink(object).pointee = descriptors[Int(slab)].freeHead
        descriptors[Int(slab)].freeHead = slot
        descriptors[Int(slab)].inUse -= 1
        objectsInUse -= 1
    }

    /// Returns many objects; each slab changes lists once per run of its
    /// objects rather than once per object.
    mutating func give(back objects: UnsafeBufferPointer<UnsafeMutableRawPointer>) {
        var current = SlabLists.none
        var relink = false
        for object in objects {
            guard let (slab, _) = locate(object) else {
                preconditionFailure("SlabCache.free: \(object) is not an object of this cache")
            }
            if slab != current {
                if relink { place(current) }
                current = slab
                // A slab that maintenance isolated stays where it is.
                relink = descriptors[Int(slab)].kind != .isolated
                if relink { unlink(slab) }
            }
            giveBackToIsolated(object, slab: slab)
        }
        if relink { place(current) }
    }

    // MARK: Choosing, placing and releasing slabs

    private mutating func slabToAllocateFrom() -> Int32? {
        while partialTop > 0 {
            let head = partialHeads[Int(partialTop)]
            if head != SlabLists.none { return head }
            partialTop -= 1
        }
        if emptyHead.pointee != SlabLists.none { return emptyHead.pointee }
        return newSlab()
    }

    /// A released slab, or one from beyond the high-water mark, placed on
    /// the empty list.
    private mutating func newSlab() -> Int32? {
        let slab: Int32
        if releasedHead != SlabLists.none {
            slab = releasedHead
            releasedHead = descriptors[Int(slab)].next
        } else if highWater < slabCapacity {
            slab = highWater
            highWater += 1
        } else {
            return nil
        }
        descriptors[Int(slab)] = SlabDescriptor(next: SlabLists.none, prev: SlabLists.none, inUse: 0,
                                                carved: 0, freeHead: SlabLists.none, kind: .released)
        bump(.slabsAllocated)
        slab_store_u64(residentSlabs, slab_load_u64(residentSlabs, Int32(SLAB_RELAXED)) + 1, Int32(SLAB_RELAXED))
        descriptors[Int(slab)].kind = .empty
        pushFront(slab, head: emptyHead)
        emptyCount += 1
        return slab
    }

    /// Takes a slab off whatever list it is on (it becomes isolated).
    mutating func unlink(_ slab: Int32) {
        let d = descriptors[Int(slab)]
        switch d.kind {
        case .full:
            if d.prev != SlabLists.none { descriptors[Int(d.prev)].next = d.next } else { fullHead = d.next }
            if d.next != SlabLists.none { descriptors[Int(d.next)].prev = d.prev } else { fullTail = d.prev }
            fullCount -= 1
        case .partial:
            remove(slab, head: partialHeads + Int(d.inUse))
            partialCount -= 1
        case .empty:
            remove(slab, head: emptyHead)
            emptyCount -= 1
        case .isolated:
            return
        case .released:
            preconditionFailure("slab \(slab) is released and on no list")
        }
        descriptors[Int(slab)].kind = .isolated
        descriptors[Int(slab)].next = SlabLists.none
        descriptors[Int(slab)].prev = SlabLists.none
        isolatedCount += 1
    }

    /// Puts an isolated slab on the list its fill calls for; an empty slab
    /// beyond the kept few gives its pages back. Returns true if released.
    @discardableResult
    mutating func place(_ slab: Int32, keepEmpty: Bool = true) -> Bool {
        precondition(descriptors[Int(slab)].kind == .isolated, "place: slab \(slab) is on a list")
        isolatedCount -= 1
        let inUse = descriptors[Int(slab)].inUse
        if inUse == objectsPerSlab {
            descriptors[Int(slab)].kind = .full
            descriptors[Int(slab)].next = SlabLists.none
            descriptors[Int(slab)].prev = fullTail
            if fullTail != SlabLists.none { descriptors[Int(fullTail)].next = slab } else { fullHead = slab }
            fullTail = slab
            fullCount += 1
        } else if inUse > 0 {
            descriptors[Int(slab)].kind = .partial
            pushFront(slab, head: partialHeads + Int(inUse))
            partialTop = max(partialTop, inUse)
            partialCount += 1
        } else if keepEmpty && emptyCount < emptySlabsKept {
            descriptors[Int(slab)].kind = .empty
            pushFront(slab, head: emptyHead)
            emptyCount += 1
        } else {
            release(slab)
            return true
        }
        return false
    }

    /// Gives a slab's pages back to the kernel. The slab must be isolated
    /// (already counted out of `isolatedCount`) and hold no objects.
    private mutating func release(_ slab: Int32) {
        precondition(descriptors[Int(slab)].inUse == 0, "release: slab \(slab) still holds objects")
        region.release(offset: Int(slab) * slabSize, length: slabSize)
        let words = bitmap + Int(slab) * bitmapWordsPerSlab
        words.update(repeating: 0, count: bitmapWordsPerSlab)
        descriptors[Int(slab)].carved = 0
        descriptors[Int(slab)].freeHead = SlabLists.none
        descriptors[Int(slab)].kind = .released
        descriptors[Int(slab)].prev = SlabLists.none
        descriptors[Int(slab)].next = releasedHead
        releasedHead = slab
        bump(.slabsReleased)
        slab_store_u64(residentSlabs, slab_load_u64(residentSlabs, Int32(SLAB_RELAXED)) - 1, Int32(SLAB_RELAXED))
    }

    /// Releases every kept-back empty slab; returns how many.
    mutating func releaseEmptySlabs() -> Int {
        var released = 0
        while emptyHead.pointee != SlabLists.none {
            let slab = emptyHead.pointee
            unlink(slab)
            place(slab, keepEmpty: false)
            released += 1
        }
        return released
    }

    private func pushFront(_ slab: Int32, head: UnsafeMutablePointer<Int32>) {
        descriptors[Int(slab)].prev = SlabLists.none
        descriptors[Int(slab)].next = head.pointee
        if head.pointee != SlabLists.none { descriptors[Int(head.pointee)].prev = slab }
        head.pointee = slab
    }

    private func remove(_ slab: Int32, head: UnsafeMutablePointer<Int32>) {
        let d = descriptors[Int(slab)]
        if d.prev != SlabLists.none { descriptors[Int(d.prev)].next = d.next } else { head.pointee = d.next }
        if d.next != SlabLists.none { descriptors[Int(d.next)].prev = d.prev }
    }

    // MARK: Walks for maintenance

    /// Full slabs oldest first, then partial slabs sparsest first.
    func reclaimOrder() -> [Int32] {
        var order: [Int32] = []
        order.reserveCapacity(fullCount + partialCount)
        var slab = fullHead
        while slab != SlabLists.none {
            order.append(slab)
            slab = descriptors[Int(slab)].next
        }
        order.append(contentsOf: partialSlabsSparsestFirst(below: objectsPerSlab))
        return order
    }

    /// Partial slabs with fewer than `limit` objects in use, sparsest first.
    func partialSlabsSparsestFirst(below limit: Int32) -> [Int32] {
        var order: [Int32] = []
        var bucket: Int32 = 1
        while bucket < min(limit, objectsPerSlab) {
            var slab = partialHeads[Int(bucket)]
            while slab != SlabLists.none {
                order.append(slab)
                slab = descriptors[Int(slab)].next
            }
            bucket += 1
        }
        return order
    }

    /// The sparsest partial slab below `limit` objects whose objects all fit
    /// in the free slots of partial slabs at least as full; nil when none
    /// does (a denser slab would fit even less).
    func compactionSource(below limit: Int32, skipping tried: Set<Int32>) -> Int32? {
        // Walks stop as soon as they have their answer: shrink calls this once
        // per slab it vacates, and building every list each time made a
        // shrink of n partial slabs cost n^2.
        var source = SlabLists.none
        var bucket: Int32 = 1
        search: while bucket < min(limit, objectsPerSlab) {
            var slab = partialHeads[Int(bucket)]
            while slab != SlabLists.none {
                if !tried.contains(slab) {
                    source = slab
                    break search
                }
                slab = descriptors[Int(slab)].next
            }
            bucket += 1
        }
        guard source != SlabLists.none else { return nil }
        let inUse = descriptors[Int(source)].inUse
        // Room in the fullest slabs first: they are the destinations, and a
        // few of them usually suffice.
        var room = 0
        bucket = partialTop
        while bucket >= inUse && bucket >= 1 {
            var slab = partialHeads[Int(bucket)]
            while slab != SlabLists.none {
                if slab != source { room += Int(objectsPerSlab - bucket) }
                if room >= Int(inUse) { return source }
                slab = descriptors[Int(slab)].next
            }
            bucket -= 1
        }
        return nil
    }

    /// Allocated slots of a slab, as addresses.
    func allocatedObjects(of slab: Int32) -> [UnsafeMutableRawPointer] {
        var objects: [UnsafeMutableRawPointer] = []
        objects.reserveCapacity(Int(descriptors[Int(slab)].inUse))
        for slot in 0..<descriptors[Int(slab)].carved where isAllocated(slab: slab, slot: slot) {
            objects.append(object(slab: slab, slot: slot))
        }
        return objects
    }
}
