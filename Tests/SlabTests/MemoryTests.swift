import Slab
import Testing

// Serialized: RSS is per process, so these two must not overlap.
@Suite("Pages go back to the kernel", .serialized,
       .disabled(if: runningUnderSanitizer, "sanitizer shadow memory hides RSS changes"))
struct MemoryTests {
    @Test("freeing 48 MiB of objects and reclaiming drops RSS by at least 90% of it")
    func rssFalls() throws {
        let table = ObjectTable()
        let cache = try makeCache(objectSize: 256, threadCache: 64, reservedBytes: 1 << 30,
                                  callbacks: table.callbacks(movable: false))
        let bytes = 48 << 20
        let count = bytes / 256
        var objects = [UnsafeMutableRawPointer]()
        objects.reserveCapacity(count)
        for i in 0..<count {
            let object = cache.allocate()!
            // Touch the whole object so every page is resident.
            object.initializeMemory(as: UInt8.self, repeating: 0xA5, count: 256)
            TestObject.initialize(object, id: UInt64(i), count: 2)
            objects.append(object)
        }
        let before = ProcessMemory.residentBytes()
        for object in objects {
            ObjectReference(object).setCount(0)
            cache.free(object)
        }
        let result = cache.reclaim(pages: Int.max)
        let after = ProcessMemory.residentBytes()
        let slabBytes = cache.statistics().totalSlabs * systemPageSize
        #expect(slabBytes == 0)
        // Empty slabs beyond the kept few went back as they emptied; reclaim
        // gave back the rest.
        let released = Int(cache.statistics()[.slabsReleased]) * systemPageSize
        #expect(released >= bytes)
        #expect(result.pagesFreed >= 1)
        #expect(Double(before - after) >= 0.9 * Double(bytes),
                "RSS fell \((before - after) >> 10) KiB of \(bytes >> 10) KiB freed")
    }

    @Test("reclaiming unused objects gives their pages back, with RSS following")
    func reclaimDropsRSS() throws {
        let table = ObjectTable()
        let cache = try makeCache(objectSize: 128, reservedBytes: 1 << 30, callbacks: table.callbacks(movable: false))
        let count = (40 << 20) / 128
        _ = fill(cache, table: table, count: count)
        let before = ProcessMemory.residentBytes()
        let result = cache.reclaim(pages: Int.max)
        let after = ProcessMemory.residentBytes()
        #expect(result.objectsFreed == count)
        #expect(table.count == 0)
        #expect(Double(before - after) >= 0.9 * Double(result.pagesFreed * systemPageSize))
    }
}
