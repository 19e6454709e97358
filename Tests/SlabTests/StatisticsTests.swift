import Slab
import Testing

@Suite("Statistics and slabinfo")
struct StatisticsTests {
    @Test("slabinfo columns follow what was allocated")
    func columns() throws {
        let cache = try makeCache("dentry", configure: { $0.emptySlabsKept = 0 })
        let perSlab = cache.configuration.objectsPerSlab
        let objects = (0..<(2 * perSlab + 10)).map { _ in cache.allocate()! }
        var stats = cache.statistics()
        #expect(stats.name == "dentry")
        #expect(stats.activeObjects == 2 * perSlab + 10)
        #expect(stats.totalObjects == 3 * perSlab)
        #expect(stats.objectSize == 24)
        #expect(stats.objectsPerSlab == perSlab)
        #expect(stats.pagesPerSlab == 1)
        #expect(stats.activeSlabs == 3 && stats.totalSlabs == 3)
        #expect(stats.fullSlabs == 2 && stats.partialSlabs == 1)
        #expect(stats[.allocations] == UInt64(2 * perSlab + 10))
        for object in objects.suffix(10) { cache.free(object) }
        stats = cache.statistics()
        #expect(stats.totalSlabs == 2)
        #expect(stats[.frees] == 10)
        #expect(abs(stats.utilization - Double(2 * perSlab * 24) / Double(2 * systemPageSize)) < 1e-9)
    }

    @Test("slabinfo text has the kernel's header lines and column layout")
    func slabinfoText() throws {
        let cache = try makeCache("slabfs_inode", objectSize: 128, configure: { $0.threadCacheCapacity = 0 })
        _ = (0..<40).map { _ in cache.allocate()! }
        let lines = SlabInfo.format([cache]).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "slabinfo - version: 2.1")
        #expect(lines[1] == "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
            + " : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>")
        #expect(lines[2] == "slabfs_inode          40     64    128   32    1 : tunables    0    0    0 : slabdata      2      2      0")
    }

    @Test("counters for kicks, moves and refusals follow vacate")
    func vacateCounters() throws {
        let (table, cache, perSlab) = try makeTableCache(movable: true) { $0.emptySlabsKept = 0 }
        let objects = fill(cache, table: table, count: perSlab + 3)
        table.removeAndFree(objects[0..<3], in: cache)
        let held = try #require(table.acquire(UInt64(perSlab + 1)))
        let result = cache.vacate(slabContaining: held)
        let stats = cache.statistics()
        #expect(stats[.kicks] == 3)
        #expect(stats[.moves] == 2)
        #expect(stats[.refusals] == 1)
        #expect(stats[.vacates] == 1)
        #expect(stats[.vacatesSucceeded] == 0)
        #expect(!result.emptied)
        cache._checkInvariants()
    }
}

@Suite("Fragmentation map")
struct FillMapTests {
    @Test("slab fills list objects per slab, and nil for slabs given back")
    func fills() throws {
        let cache = try makeCache(configure: { $0.emptySlabsKept = 0 })
        let perSlab = cache.configuration.objectsPerSlab
        let objects = (0..<(3 * perSlab)).map { _ in cache.allocate()! }
        for object in objects[perSlab..<(2 * perSlab)] { cache.free(object) }
        for object in objects[(2 * perSlab)..<(2 * perSlab + 5)] { cache.free(object) }
        #expect(cache.slabFills() == [perSlab, nil, perSlab - 5])
    }
}
