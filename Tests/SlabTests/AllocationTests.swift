import LoadGenerators
import Slab
import Testing

@Suite("Allocating and freeing")
struct AllocationTests {
    @Test("every object handed out is distinct and maps back to its slab and slot")
    func distinctObjects() throws {
        let cache = try makeCache()
        let objects = (0..<1000).map { _ in cache.allocate()! }
        #expect(Set(objects).count == 1000)
        let perSlab = cache.configuration.objectsPerSlab
        for object in objects {
            let location = try #require(cache.location(of: object))
            #expect(location.slot < perSlab)
            #expect(UInt(bitPattern: object) - location.pageAddress
                == UInt(location.slot * cache.configuration.objectStride))
        }
        cache._checkInvariants()
        for object in objects { cache.free(object) }
        cache._checkInvariants()
    }

    @Test("a reclaimable object comes back with a count of 0 and free clears the count")
    func countsOnAllocation() throws {
        let cache = try makeCache()
        let object = cache.allocate()!
        #expect(ObjectReference(object).count == 0)
        ObjectReference(object).setCount(3)
        cache.free(object)
        let again = cache.allocate()!
        #expect(again == object)
        #expect(ObjectReference(again).count == 0)
    }

    @Test("allocation takes the fullest partial slab first")
    func fullestPartialFirst() throws {
        let cache = try makeCache(configure: { $0.emptySlabsKept = 4 })
        let perSlab = cache.configuration.objectsPerSlab
        let objects = (0..<(3 * perSlab)).map { _ in cache.allocate()! }
        let slab = { (o: UnsafeMutableRawPointer) in cache.location(of: o)!.slab }
        let slabs = Array(Set(objects.map(slab))).sorted()
        #expect(slabs.count == 3)
        // Leave slab 0 with 1 object, slab 1 with perSlab - 2, slab 2 with half.
        let bySlab = Dictionary(grouping: objects, by: slab)
        for object in bySlab[slabs[0]]!.dropFirst() { cache.free(object) }
        for object in bySlab[slabs[1]]!.prefix(2) { cache.free(object) }
        for object in bySlab[slabs[2]]!.prefix(perSlab / 2) { cache.free(object) }
        let next = cache.allocate()!
        #expect(slab(next) == slabs[1])
        cache._checkInvariants()
    }

    @Test("an empty slab beyond the kept few gives its pages back")
    func emptySlabsReleased() throws {
        let cache = try makeCache(configure: { $0.emptySlabsKept = 1 })
        let perSlab = cache.configuration.objectsPerSlab
        let objects = (0..<(3 * perSlab)).map { _ in cache.allocate()! }
        #expect(cache.statistics().totalSlabs == 3)
        for object in objects { cache.free(object) }
        let stats = cache.statistics()
        #expect(stats.totalSlabs == 1)
        #expect(stats.emptySlabs == 1)
        #expect(stats[.slabsReleased] == 2)
        cache._checkInvariants()
    }

    @Test("allocation fails cleanly when the reserved range is exhausted")
    func exhaustion() throws {
        let cache = try makeCache(reservedBytes: 2 * systemPageSize)
        let capacity = 2 * cache.configuration.objectsPerSlab
        let objects = (0..<capacity).map { _ in cache.allocate()! }
        #expect(cache.allocate() == nil)
        cache.free(objects[0])
        #expect(cache.allocate() != nil)
        cache._checkInvariants()
    }

    @Test("bulk allocation gives all the objects asked for")
    func bulkAllocation() throws {
        let cache = try makeCache(threadCache: 16)
        let objects = try #require(cache.allocate(bulk: 500))
        #expect(Set(objects).count == 500)
        #expect(cache.statistics().activeObjects == 500)
        cache.free(bulk: objects)
        #expect(cache.statistics().activeObjects == 0)
        cache._checkInvariants()
    }

    @Test("bulk allocation is all or nothing")
    func bulkAllOrNothing() throws {
        let cache = try makeCache(threadCache: 16, reservedBytes: 2 * systemPageSize)
        let capacity = 2 * cache.configuration.objectsPerSlab
        let held = (0..<10).map { _ in cache.allocate()! }
        #expect(cache.allocate(bulk: capacity) == nil)
        #expect(cache.statistics().activeObjects == 10)
        let rest = try #require(cache.allocate(bulk: capacity - 10))
        #expect(Set(rest + held).count == capacity)
        cache._checkInvariants()
    }

    @Test("thread caches serve a free-then-allocate without touching the slab lists")
    func threadCacheReuse() throws {
        let cache = try makeCache(threadCache: 32)
        let first = cache.allocate()!
        cache.free(first)
        #expect(cache.allocate() == first)
        #expect(cache.statistics().threadCachedObjects > 0)
        cache._checkInvariants()
        #expect(cache.statistics().threadCachedObjects == 0)
    }

    @Test("a thread's cached objects return to the slabs when the thread exits")
    func threadExitReturnsObjects() throws {
        let cache = try makeCache(reclaimable: false, threadCache: 32)
        runOnNewThread {
            let objects = (0..<100).map { _ in cache.allocate()! }
            for object in objects { cache.free(object) }
        }
        // No drain here: the exit hook alone must have given the objects back.
        let stats = cache.statistics()
        #expect(stats.threadCachedObjects == 0)
        #expect(stats.activeObjects == 0)
        #expect(stats[.allocations] == 100 && stats[.frees] == 100)
        cache._checkInvariants()
    }

    @Test("the refcount protocol: increment unless zero, freeze only from the expected count")
    func refcountProtocol() throws {
        let cache = try makeCache()
        let object = ObjectReference(cache.allocate()!)
        #expect(!object.tryRetain())
        object.setCount(1)
        #expect(object.tryRetain())
        #expect(object.count == 2)
        #expect(!object.tryFreeze())
        #expect(object.release() == 1)
        #expect(object.tryFreeze())
        #expect(object.count == 0)
        #expect(!object.tryRetain())
    }

    @Test("freeing a pointer that is not from the cache traps with a message")
    func foreignFree() async throws {
        await #expect(processExitsWith: .failure) {
            let cache = try makeCache()
            let foreign = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
            cache.free(foreign)
        }
    }

    @Test("freeing an object twice traps with a message")
    func doubleFree() async throws {
        await #expect(processExitsWith: .failure) {
            let cache = try makeCache(threadCache: 0)
            let object = cache.allocate()!
            cache.free(object)
            cache.free(object)
        }
    }
}
