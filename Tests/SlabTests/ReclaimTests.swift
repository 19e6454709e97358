import Slab
import Synchronization
import Testing

@Suite("Page-targeted reclaim")
struct ReclaimTests {
    @Test("reclaim frees a slab whose objects are all unused, through the destructor")
    func wholeSlab() throws {
        let (table, cache, perSlab) = try makeTableCache(movable: false) { $0.emptySlabsKept = 0 }
        _ = fill(cache, table: table, count: perSlab)
        let result = cache.reclaim(pages: 1)
        #expect(result.pagesFreed == 1)
        #expect(result.objectsFreed == perSlab)
        #expect(table.destroyed.load(ordering: .relaxed) == perSlab)
        #expect(table.count == 0)
        #expect(cache.statistics().totalSlabs == 0)
        cache._checkInvariants()
    }

    @Test("reclaim never frees an object in use, and frees at most `circulation` unused ones beside it")
    func circulation() throws {
        let (table, cache, perSlab) = try makeTableCache(movable: false) { $0.circulation = 3 }
        let objects = fill(cache, table: table, count: perSlab)
        #expect(ObjectReference(objects[5]).tryRetain())
        let result = cache.reclaim(pages: 1)
        #expect(result.pagesFreed == 0)
        #expect(result.objectsFreed == 3)
        #expect(ObjectReference(objects[5]).count == 2)
        #expect(TestObject.isIntact(objects[5], id: 6))
        #expect(table.acquire(6) == objects[5])
        #expect(table.count == perSlab - 3)
        cache._checkInvariants()
    }

    @Test("reclaim walks full slabs oldest first")
    func oldestFirst() throws {
        let (table, cache, perSlab) = try makeTableCache(movable: false) { $0.emptySlabsKept = 0 }
        let older = fill(cache, table: table, count: perSlab)
        let newer = fill(cache, table: table, count: perSlab, firstID: 10_000)
        let result = cache.reclaim(pages: 1)
        #expect(result.pagesFreed == 1)
        #expect(table.acquire(1) == nil)
        #expect(table.acquire(10_000) == newer[0])
        #expect(cache.location(of: older[0]) != cache.location(of: newer[0]))
        cache._checkInvariants()
    }

    @Test("reclaim takes partial slabs sparsest first after the full ones")
    func sparsestPartialFirst() throws {
        let (table, cache, perSlab) = try makeTableCache(movable: false) { $0.emptySlabsKept = 0; $0.circulation = 0 }
        let objects = fill(cache, table: table, count: 2 * perSlab)
        // Slab A keeps 3 objects, slab B keeps perSlab - 3.
        table.removeAndFree(objects[3..<perSlab] + objects[perSlab..<(perSlab + 3)], in: cache)
        let result = cache.reclaim(pages: 1)
        #expect(result.pagesFreed == 1)
        #expect(result.objectsFreed == 3)
        #expect(table.acquire(1) == nil)
        #expect(table.count == perSlab - 3)
        cache._checkInvariants()
    }

    @Test("an object the owner marks recently used survives one pass and keeps its slab from being freed whole")
    func secondChance() throws {
        let table = ObjectTable()
        let referenced = Locked<Set<UInt>>([])
        var callbacks = table.callbacks(movable: false)
        callbacks.shouldReclaim = { object in
            referenced.withLock { $0.remove(UInt(bitPattern: object)) == nil }
        }
        let cache = try makeCache(configure: { $0.emptySlabsKept = 0 }, callbacks: callbacks)
        let perSlab = cache.configuration.objectsPerSlab
        let objects = fill(cache, table: table, count: perSlab)
        referenced.withLock { _ = $0.insert(UInt(bitPattern: objects[0])) }
        let first = cache.reclaim(pages: 1)
        #expect(first.pagesFreed == 0)
        #expect(first.objectsFreed == cache.configuration.circulation)
        #expect(table.acquire(1) == objects[0])
        ObjectReference(objects[0]).release()
        let second = cache.reclaim(pages: 1)
        #expect(second.pagesFreed == 1)
        cache._checkInvariants()
    }

    @Test("kept-back empty slabs are given back before any object is freed")
    func emptyFirst() throws {
        let (table, cache, perSlab) = try makeTableCache(movable: false) { $0.emptySlabsKept = 2 }
        let objects = (0..<(2 * perSlab)).map { _ in cache.allocate()! }
        for object in objects { cache.free(object) }
        _ = fill(cache, table: table, count: 10)
        #expect(cache.statistics().emptySlabs == 1)
        let result = cache.reclaim(pages: 1)
        #expect(result.pagesFreed == 1)
        #expect(result.objectsFreed == 0)
        #expect(table.count == 10)
        cache._checkInvariants()
    }

    @Test("a cache that is not reclaimable frees no objects")
    func notReclaimable() throws {
        let cache = try makeCache(reclaimable: false)
        let objects = (0..<100).map { _ in cache.allocate()! }
        for object in objects { ObjectReference(object).setCount(1) }
        let result = cache.reclaim(pages: 100)
        #expect(result.objectsFreed == 0)
        #expect(cache.statistics().activeObjects == 100)
        cache._checkInvariants()
    }

    @Test("reclaim counters add up across passes")
    func counters() throws {
        let (table, cache, perSlab) = try makeTableCache(movable: false) { $0.emptySlabsKept = 0 }
        _ = fill(cache, table: table, count: 4 * perSlab)
        let a = cache.reclaim(pages: 1)
        let b = cache.reclaim(pages: 2)
        let stats = cache.statistics()
        #expect(stats[.reclaimPasses] == 2)
        #expect(stats[.pagesReclaimed] == UInt64(a.pagesFreed + b.pagesFreed))
        #expect(stats[.objectsReclaimed] == UInt64(3 * perSlab))
        #expect(stats.activeObjects == perSlab)
        cache._checkInvariants()
    }

    @Test("reclaim(pages:objects:perSlab:) frees past the circulation limit and stops at the object count")
    func objectCount() throws {
        let (table, cache, perSlab) = try makeTableCache(movable: false) { $0.emptySlabsKept = 0; $0.circulation = 2 }
        let objects = fill(cache, table: table, count: 3 * perSlab)
        // One object in use in every slab: no slab can be freed whole.
        for slab in 0..<3 { #expect(ObjectReference(objects[slab * perSlab]).tryRetain()) }
        let wanted = perSlab + perSlab / 2
        let result = cache.reclaim(pages: .max, objects: wanted, perSlab: .max)
        #expect(result.objectsFreed == wanted)
        #expect(result.pagesFreed == 0)
        #expect(table.count == 3 * perSlab - wanted)
        for slab in 0..<3 { #expect(ObjectReference(objects[slab * perSlab]).count == 2) }
        cache._checkInvariants()
    }
}
