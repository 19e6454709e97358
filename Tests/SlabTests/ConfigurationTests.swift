import Slab
import Testing

@Suite("Creating a cache")
struct ConfigurationTests {
    @Test("an object size of 0 is rejected")
    func zeroSize() {
        #expect(throws: SlabError.invalidObjectSize(0)) {
            try SlabCache(.init(name: "x", objectSize: 0))
        }
    }

    @Test("an alignment that is not a power of two is rejected")
    func oddAlignment() {
        #expect(throws: SlabError.invalidAlignment(24)) {
            try SlabCache(.init(name: "x", objectSize: 32, alignment: 24))
        }
    }

    @Test("a slab size that is not a power-of-two multiple of the page is rejected")
    func badSlabSize() {
        #expect(throws: SlabError.invalidSlabSize(6000)) {
            try SlabCache(.init(name: "x", objectSize: 32, slabSize: 6000))
        }
        #expect(throws: SlabError.invalidSlabSize(12288)) {
            try SlabCache(.init(name: "x", objectSize: 32, slabSize: 12288))
        }
    }

    @Test("a slab too small for one object is rejected")
    func objectTooLarge() {
        #expect(throws: SlabError.objectTooLargeForSlab(objectStride: 5000, slabSize: 4096)) {
            try SlabCache(.init(name: "x", objectSize: 5000))
        }
    }

    @Test("errors read as one clear sentence")
    func errorText() {
        #expect(SlabError.invalidAlignment(3).description
            == "alignment 3 is invalid: it must be a power of two no larger than the slab")
    }

    @Test("objects are laid out at the requested alignment, at least 8 bytes apart")
    func layout() throws {
        let cache = try makeCache(objectSize: 40, configure: { $0.alignment = 64 })
        #expect(cache.configuration.objectStride == 64)
        #expect(cache.configuration.objectsPerSlab == 64)
        let tiny = try makeCache(objectSize: 1)
        #expect(tiny.configuration.objectStride == 8)
        let objects = (0..<100).map { _ in cache.allocate()! }
        for object in objects { #expect(UInt(bitPattern: object) % 64 == 0) }
        #expect(Set(objects).count == 100)
    }

    @Test("larger slab sizes hold more objects per slab")
    func largeSlabs() throws {
        let cache = try makeCache(objectSize: 128, configure: { $0.slabSize = 16384 })
        #expect(cache.configuration.objectsPerSlab == 128)
        let objects = (0..<300).map { _ in cache.allocate()! }
        let stats = cache.statistics()
        #expect(stats.pagesPerSlab == 4)
        #expect(stats.totalSlabs == 3)
        #expect(cache.residentPages == 12)
        cache.free(bulk: objects)
        cache._checkInvariants()
    }
}
