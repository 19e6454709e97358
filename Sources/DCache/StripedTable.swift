import Glibc
import Slab

/// A hash table of object addresses, split into stripes that each have a
/// lock (the "bucket lock" of the design). Open addressing with linear
/// probing and backward-shift deletion; each slot keeps the object's 32-bit
/// hash beside its address, so probing rarely touches objects and resizing
/// never does. Keys live in the objects; callers compare them.
final class StripedTable: @unchecked Sendable {
    static let stripeCount = 64

    private let locks: [Lock]
    private let stripes: UnsafeMutablePointer<Stripe>

    init() {
        locks = (0..<StripedTable.stripeCount).map { _ in Lock() }
        stripes = .allocate(capacity: StripedTable.stripeCount)
        stripes.initialize(repeating: Stripe(), count: StripedTable.stripeCount)
    }

    deinit {
        for i in 0..<StripedTable.stripeCount { stripes[i].deallocate() }
        stripes.deallocate()
    }

    static func stripeIndex(_ hash: UInt32) -> Int { Int(hash >> 26) }

    /// Runs `body` with the stripe that holds `hash`, under its lock.
    @inline(__always)
    func withStripe<R>(_ hash: UInt32, _ body: (inout Stripe) throws -> R) rethrows -> R {
        let index = StripedTable.stripeIndex(hash)
        return try locks[index].withLock { try body(&stripes[index]) }
    }

    /// Runs `body` on every stripe in turn, each under its lock.
    func forEachStripe(_ body: (inout Stripe) -> Void) {
        for index in 0..<StripedTable.stripeCount {
            locks[index].withLock { body(&stripes[index]) }
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
        forEachStripe { total += $0.capacity * (MemoryLayout<UInt>.stride + MemoryLayout<UInt32>.stride) }
        return total
    }

    struct Stripe {
        private(set) var capacity = 0
        private(set) var count = 0
        private var objects: UnsafeMutablePointer<UInt>?
        private var hashes: UnsafeMutablePointer<UInt32>?

        func deallocate() {
            objects?.deallocate()
            hashes?.deallocate()
        }

        private func home(_ hash: UInt32) -> Int { Int(hash) & (capacity - 1) }

        /// The first object with this hash that `matches` accepts.
        func find(_ hash: UInt32, _ matches: (UnsafeMutableRawPointer) -> Bool) -> UnsafeMutableRawPointer? {
            guard count > 0, let objects, let hashes else { return nil }
            var i = home(hash)
            while objects[i] != 0 {
                if hashes[i] == hash, let object = UnsafeMutableRawPointer(bitPattern: objects[i]), matches(object) {
                    return object
                }
                i = (i + 1) & (capacity - 1)
            }
            return nil
        }

        mutating func insert(_ object: UnsafeMutableRawPointer, hash: UInt32) {
            if (count + 1) * 4 > capacity * 3 { grow() }
            var i = home(hash)
            while objects![i] != 0 { i = (i + 1) & (capacity - 1) }
            objects![i] = UInt(bitPattern: object)
            hashes![i] = hash
            count += 1
        }

        /// Removes this very object (not merely an equal key).
        @discardableResult
        mutating func remove(_ object: UnsafeMutableRawPointer, hash: UInt32) -> Bool {
            guard let i = slot(of: object, hash: hash) else { return false }
            deleteSlot(i)
            count -= 1
            return true
        }

        /// Repoints the slot of `old` at `new` (a move).
        @discardableResult
        mutating func replace(_ old: UnsafeMutableRawPointer, with new: UnsafeMutableRawPointer, hash: UInt32) -> Bool {
            guard let i = slot(of: old, hash: hash) else { return false }
            objects![i] = UInt(bitPattern: new)
            return true
        }

        /// Calls `body` with each object (order unspecified).
        func forEach(_ body: (UnsafeMutableRawPointer) -> Void) {
            guard let objects else { return }
            for i in 0..<capacity where objects[i] != 0 { body(UnsafeMutableRawPointer(bitPattern: objects[i])!) }
        }

        private func slot(of object: UnsafeMutableRawPointer, hash: UInt32) -> Int? {
            guard count > 0, let objects else { return nil }
            var i = home(hash)
            while objects[i] != 0 {
                if objects[i] == UInt(bitPattern: object) { return i }
                i = (i + 1) & (capacity - 1)
            }
            return nil
        }

        /// Backward-shift deletion: later members of the run move up so that
        /// probing needs no tombstones.
        private mutating func deleteSlot(_ start: Int) {
            let mask = capacity - 1
            var hole = start
            var i = (start + 1) & mask
            while objects![i] != 0 {
                let want = home(hashes![i])
                // Move i into the hole if its home is not in (hole, i].
                let distanceToHole = (i - want) & mask
                let distanceFromHole = (i - hole) & mask
                if distanceToHole >= distanceFromHole {
                    objects![hole] = objects![i]
                    hashes![hole] = hashes![i]
                    hole = i
                }
                i = (i + 1) & mask
            }
            objects![hole] = 0
        }

        private mutating func grow() {
            let oldCapacity = capacity
            let oldObjects = objects
            let oldHashes = hashes
            capacity = max(16, capacity * 2)
            objects = .allocate(capacity: capacity)
            objects!.initialize(repeating: 0, count: capacity)
            hashes = .allocate(capacity: capacity)
            hashes!.initialize(repeating: 0, count: capacity)
            count = 0
            if let oldObjects, let oldHashes {
                for i in 0..<oldCapacity where oldObjects[i] != 0 {
                    insert(UnsafeMutableRawPointer(bitPattern: oldObjects[i])!, hash: oldHashes[i])
                }
                oldObjects.deallocate()
                oldHashes.deallocate()
            }
        }
    }
}
