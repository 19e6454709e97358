import Slab
import Testing

@Suite("Vacate and shrink")
struct VacateTests {
    @Test("vacate moves live objects into a fuller slab and the page is freed")
    func vacateMoves() throws {
        let (table, cache, perSlab) = try makeTableCache(movable: true) { $0.emptySlabsKept = 0 }
        let objects = fill(cache, table: table, count: 2 * perSlab)
        // Free most of the second slab, a few of the first: room to move into.
        table.removeAndFree(objects[(perSlab + 5)...] + objects[0..<10], in: cache)
        let sparse = cache.location(of: objects[perSlab])!.slab
        let result = cache.vacate(slab: sparse)
        #expect(result.emptied)
        #expect(result.moved == 5)
        #expect(result.refused.isEmpty)
        for id in UInt64(perSlab + 1)...UInt64(perSlab + 5) {
            let object = try #require(table.acquire(id))
            #expect(TestObject.isIntact(object, id: id))
            #expect(cache.location(of: object)!.slab != sparse)
            ObjectReference(object).release()
        }
        #expect(cache.statistics().totalSlabs == 1)
        #expect(cache.statistics()[.moves] == 5)
        cache._checkInvariants()
    }

    @Test("vacate reports the objects whose holders refuse, and keeps them intact")
    func vacateRefusals() throws {
        let (table, cache, perSlab) = try makeTableCache(movable: true) { $0.emptySlabsKept = 0 }
        let objects = fill(cache, table: table, count: 2 * perSlab)
        table.removeAndFree(objects[(perSlab + 4)...] + objects[0..<10], in: cache)
        let held = try #require(table.acquire(UInt64(perSlab + 2)))
        let result = cache.vacate(slabContaining: held)
        #expect(!result.emptied)
        #expect(result.refused == [held])
        #expect(result.moved == 3)
        #expect(TestObject.isIntact(held, id: UInt64(perSlab + 2)))
        #expect(ObjectReference(held).count == 2)
        cache._checkInvariants()
    }

    @Test("without a destination, vacate frees unused objects through kick")
    func vacateFreesWithoutRoom() throws {
        let (table, cache, _) = try makeTableCache(movable: true) { $0.emptySlabsKept = 0 }
        let objects = fill(cache, table: table, count: 5)
        let result = cache.vacate(slabContaining: objects[0])
        #expect(result.emptied)
        #expect(result.freed == 5)
        #expect(table.count == 0)
        cache._checkInvariants()
    }

    @Test("without mobility, vacate frees unused objects and refuses ones in use")
    func vacateWithoutMobility() throws {
        let (table, cache, _) = try makeTableCache(movable: false)
        let objects = fill(cache, table: table, count: 5)
        _ = table.acquire(3)
        let result = cache.vacate(slabContaining: objects[0])
        #expect(!result.emptied)
        #expect(result.freed == 4)
        #expect(result.refused == [objects[2]])
        cache._checkInvariants()
    }

    @Test("shrink vacates slabs filled below the ratio into dense ones and releases empty slabs")
    func shrinkDefragments() throws {
        let (table, cache, perSlab) = try makeTableCache(movable: true) { $0.emptySlabsKept = 2; $0.shrinkFillRatio = 0.3 }
        // Every slab keeps every tenth object: 10% full.
        let live = fillSparsely(cache, table: table, slabs: 10, keepingEvery: 10)
        let before = cache.statistics()
        #expect(before.totalSlabs == 10)
        let result = cache.shrink()
        let after = cache.statistics()
        #expect(table.count == live)
        #expect(result.moved + result.freed > 0)
        #expect(result.freed == 0)
        #expect(after.totalSlabs <= (live + perSlab - 1) / perSlab + 1)
        #expect(after.utilization > before.utilization * 3)
        try table.expectEveryObjectIntact()
        cache._checkInvariants()
    }

    @Test("shrink(fillBelow: 1) packs slabs that the default ratio leaves alone, moving and freeing nothing else")
    func shrinkFillBelowOne() throws {
        let (table, cache, perSlab) = try makeTableCache(movable: true) { $0.emptySlabsKept = 0; $0.shrinkFillRatio = 0.3 }
        // Every slab half full: above the default ratio.
        let live = fillSparsely(cache, table: table, slabs: 4, keepingEvery: 2)
        #expect(cache.shrink().moved == 0)
        let result = cache.shrink(fillBelow: 1)
        #expect(result.freed == 0)
        #expect(result.moved > 0)
        #expect(table.count == live)
        #expect(cache.statistics().totalSlabs == (live + perSlab - 1) / perSlab)
        try table.expectEveryObjectIntact()
        cache._checkInvariants()
    }
}
