import LoadGenerators
import Slab
import Synchronization
import Testing

extension ObjectTable {
    /// Publishes the object unless the id is taken; false if it was.
    func insertIfAbsent(_ object: UnsafeMutableRawPointer) -> Bool {
        entries.withLock { entries in
            let id = TestObject.id(object)
            guard entries[id] == nil else { return false }
            entries[id] = Entry(object: object)
            return true
        }
    }
}

@Suite("Concurrent use while reclaim, vacate and shrink run")
struct ConcurrencyTests {
    @Test("nothing held is freed or moved under its holder, and every lookup finds intact data",
          arguments: [0, 16])
    func stress(threadCache: Int) throws {
        let table = ObjectTable()
        let cache = try makeCache("stress", threadCache: threadCache, reservedBytes: 256 << 20,
                                  configure: { $0.emptySlabsKept = 1; $0.circulation = 4; $0.shrinkFillRatio = 0.5 },
                                  callbacks: table.callbacks(movable: true))
        let workers = 3
        let operations = 60_000
        let idSpace: UInt64 = 6_000
        let corrupt = Atomic<Int>(0)
        let lookups = Atomic<Int>(0)
        let maintenancePasses = Atomic<Int>(0)
        let seed = UInt64.random(in: 1...UInt64.max)
        print("concurrency stress seed \(seed), thread cache \(threadCache)")

        // Maintenance: reclaim, shrink and vacate in a loop.
        runWorkers(workers, seed: seed, whileRepeating: { random in
            switch random.next() % 3 {
            case 0: _ = cache.reclaim(pages: 4)
            case 1: _ = cache.shrink()
            default:
                let slabs = max(1, cache.statistics().totalSlabs * 2)
                _ = cache.vacate(slab: Int(random.next() % UInt64(slabs)))
            }
            maintenancePasses.add(1, ordering: .relaxed)
        }) { _, random in
            for _ in 0..<operations {
                let id = random.next() % idSpace
                switch random.next() % 10 {
                case 0..<5:
                    guard let object = table.acquire(id) else { continue }
                    lookups.add(1, ordering: .relaxed)
                    // Hold it a while: reclaim and vacate must leave it alone.
                    for _ in 0..<3 {
                        if !TestObject.isIntact(object, id: id) { corrupt.add(1, ordering: .relaxed) }
                        for _ in 0..<50 { _ = random.next() }
                    }
                    ObjectReference(object).release()
                case 5..<8:
                    guard let object = cache.allocate() else { continue }
                    TestObject.initialize(object, id: id, count: 2)
                    if table.insertIfAbsent(object) {
                        ObjectReference(object).release()
                    } else {
                        ObjectReference(object).setCount(0)
                        cache.free(object)
                    }
                default:
                    if let object = table.remove(id) { cache.free(object) }
                }
            }
        }

        #expect(corrupt.load(ordering: .relaxed) == 0)
        #expect(lookups.load(ordering: .relaxed) > 0)
        #expect(maintenancePasses.load(ordering: .relaxed) > 0)
        for (id, entry) in table.entries.withLock({ $0 }) {
            #expect(TestObject.isIntact(entry.object, id: id))
            #expect(ObjectReference(entry.object).count == 1)
            #expect(cache.location(of: entry.object) != nil)
        }
        let stats = cache.statistics()
        #expect(stats.activeObjects + stats.threadCachedObjects >= table.count)
        cache._checkInvariants()
        #expect(cache.statistics().activeObjects == table.count)
    }
}
