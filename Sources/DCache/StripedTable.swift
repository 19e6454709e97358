import Glibc
import Slab

/// A hash table of objects, split into stripes that each have a lock (the
/// "bucket lock" of the design). Open addressing with linear probing and
/// backward-shift deletion. Keys live in the objects; callers compare them.
///
/// A slot is 4 bytes: the object's number in its slab region
/// (`ObjectIndexer`) and, in the bits the number leaves free, a tag of the
/// hash's low bits, so that most probes of other keys are refused without
/// touching their objects. The full hash, needed to re-place entries when
/// deleting and growing, is `keyHash` of the object (its key is immutable
/// while it is in the table).
///
/// Memory: a stripe's array is whole pages mapped for it (`TableMemory`),
/// so a replaced array goes back to the system instead of staying behind
/// as a hole in the heap, and it grows by a quarter when three quarters
/// full (`grown`). 32 stripes: each is a page (1024 slots) at 24,000
/// entries, when locking does not need more on the few threads we run.
final class StripedTable: @unchecked Sendable {
    static let stripeCount = 32
    static let stripeShift = 27

    private let locks: LockArray
    private let stripes: UnsafeMutablePointer<Stripe>

    init(objectsOf cache: SlabCache, keyHash: @escaping @Sendable (UnsafeMutableRawPointer) -> UInt32) throws(DCacheError) {
        let layout = Layout(try ObjectIndexer(cache), keyHash: keyHash)
        locks = LockArray(count: StripedTable.stripeCount)
        stripes = .allocate(capacity: StripedTable.stripeCount)
        stripes.initialize(repeating: Stripe(layout), count: StripedTable.stripeCount)
    }

    deinit {
        for i in 0..<StripedTable.stripeCount { stripes[i].deallocate() }
        stripes.deallocate()
    }

    /// The top bits pick the stripe; the low 26 the home slot in it.
    static func stripeIndex(_ hash: UInt32) -> Int { Int(hash >> UInt32(stripeShift)) }

    /// Runs `body` with the stripe that holds `hash`, under its lock.
    @inline(__always)
    func withStripe<R>(_ hash: UInt32, _ body: (inout Stripe) throws -> R) rethrows -> R {
        let index = StripedTable.stripeIndex(hash)
        return try locks.withLock(index) { try body(&stripes[index]) }
    }

    /// Runs `body` on every stripe in turn, each under its lock.
    func forEachStripe(_ body: (inout Stripe) -> Void) {
        for index in 0..<StripedTable.stripeCount {
            locks.withLock(index) { body(&stripes[index]) }
        }
    }

    var count: Int {
        var total = 0
        forEachStripe { total += $0.count }
        return total
    }

    /// Bytes of table memory (for per-entry accounting).
    var bytes: Int {
        var total = 0
        forEachStripe { total += $0.capacity * MemoryLayout<UInt32>.stride }
        return total
    }

    /// How slots encode objects, shared by the stripes.
    struct Layout: @unchecked Sendable {
        let indexer: ObjectIndexer
        let keyHash: @Sendable (UnsafeMutableRawPointer) -> UInt32
        let tagBits: UInt32
        let tagMask: UInt32

        init(_ indexer: ObjectIndexer, keyHash: @escaping @Sendable (UnsafeMutableRawPointer) -> UInt32) {
            self.indexer = indexer
            self.keyHash = keyHash
            tagBits = UInt32(32 - indexer.bits)
            tagMask = tagBits == 0 ? 0 : UInt32.max >> (32 - tagBits)
        }

        @inline(__always)
        func entry(_ object: UnsafeMutableRawPointer, hash: UInt32) -> UInt32 {
            indexer.index(object) << tagBits | hash & tagMask
        }
        @inline(__always)
        func object(_ entry: UInt32) -> UnsafeMutableRawPointer { indexer.object(entry >> tagBits)! }
        @inline(__always)
        func tagMatches(_ entry: UInt32, _ hash: UInt32) -> Bool { entry & tagMask == hash & tagMask }
    }

    struct Stripe {
        private let layout: Layout
        private(set) var capacity = 0
        private(set) var count = 0
        /// Layout.entry per slot; 0 is an empty slot.
        private var slots: UnsafeMutablePointer<UInt32>?

        init(_ layout: Layout) { self.layout = layout }

        func deallocate() {
            if let slots { TableMemory.deallocate(slots, bytes: capacity * 4) }
        }

        /// Any capacity works: the low 26 bits of the hash scaled to it.
        private func home(_ hash: UInt32) -> Int { Int((UInt64(hash & 0x03ff_ffff) &* UInt64(capacity)) >> 26) }

        @inline(__always)
        private func next(_ i: Int) -> Int { i + 1 == capacity ? 0 : i + 1 }

        /// The first object with this hash that `matches` accepts.
        func find(_ hash: UInt32, _ matches: (UnsafeMutableRawPointer) -> Bool) -> UnsafeMutableRawPointer? {
            guard count > 0, let slots else { return nil }
            var i = home(hash)
            while slots[i] != 0 {
                if layout.tagMatches(slots[i], hash) {
                    let object = layout.object(slots[i])
                    if matches(object) { return object }
                }
                i = next(i)
            }
            return nil
        }

        mutating func insert(_ object: UnsafeMutableRawPointer, hash: UInt32) {
            if (count + 1) * 4 > capacity * 3 { grow() }
            place(layout.entry(object, hash: hash), hash: hash)
            count += 1
        }

        private func place(_ entry: UInt32, hash: UInt32) {
            var i = home(hash)
            while slots![i] != 0 { i = next(i) }
            slots![i] = entry
        }

        /// Removes this very object (not merely an equal key).
        @discardableResult
        mutating func remove(_ object: UnsafeMutableRawPointer, hash: UInt32) -> Bool {
            guard let i = slot(of: object, hash: hash) else { return false }
            deleteSlot(i)
            count -= 1
            return true
        }

        /// Repoints the slot of `old` at `new` (a move; same key).
        @discardableResult
        mutating func replace(_ old: UnsafeMutableRawPointer, with new: UnsafeMutableRawPointer, hash: UInt32) -> Bool {
            guard let i = slot(of: old, hash: hash) else { return false }
            slots![i] = layout.entry(new, hash: hash)
            return true
        }

        /// Calls `body` with each object (order unspecified).
        func forEach(_ body: (UnsafeMutableRawPointer) -> Void) {
            guard let slots else { return }
            for i in 0..<capacity where slots[i] != 0 { body(layout.object(slots[i])) }
        }

        private func slot(of object: UnsafeMutableRawPointer, hash: UInt32) -> Int? {
            guard count > 0, let slots else { return nil }
            let entry = layout.entry(object, hash: hash)
            var i = home(hash)
            while slots[i] != 0 {
                if slots[i] == entry { return i }
                i = next(i)
            }
            return nil
        }

        /// Backward-shift deletion: later members of the run move up so that
        /// probing needs no tombstones.
        private mutating func deleteSlot(_ start: Int) {
            var hole = start
            var i = next(start)
            while slots![i] != 0 {
                let want = home(layout.keyHash(layout.object(slots![i])))
                // Move i into the hole if its home is not in (hole, i].
                let distanceToHome = (i - want + capacity) % capacity
                let distanceFromHole = (i - hole + capacity) % capacity
                if distanceToHome >= distanceFromHole {
                    slots![hole] = slots![i]
                    hole = i
                }
                i = next(i)
            }
            slots![hole] = 0
        }

        /// Whole pages: the first array is one (1024 slots), and each growth
        /// adds a quarter, at least a page. Small steps keep the load between
        /// 0.6 and 0.75 (doubling leaves a table a quarter to a half empty);
        /// moving each entry about four times over its life is the price.
        static func grown(_ capacity: Int) -> Int {
            let slotsPerPage = systemPageSize / 4
            let pages = capacity / slotsPerPage
            return (pages + max(1, pages / 4)) * slotsPerPage
        }

        private mutating func grow() {
            let oldCapacity = capacity
            let oldSlots = slots
            capacity = Self.grown(capacity)
            slots = TableMemory.allocate(bytes: capacity * 4).bindMemory(to: UInt32.self, capacity: capacity)
            if let oldSlots {
                for i in 0..<oldCapacity where oldSlots[i] != 0 {
                    place(oldSlots[i], hash: layout.keyHash(layout.object(oldSlots[i])))
                }
                TableMemory.deallocate(oldSlots, bytes: oldCapacity * 4)
            }
        }
    }
}
