import Glibc
import Slab

// The measured loops. Objects are taken in windows (allocate `window`, then
// free them all) rather than one alloc/free back to back, so the allocator
// must really hand out distinct slots; each object is written and read back
// and its address folded into a checksum the caller prints.

/// `rounds` windows of single allocate/free calls.
@inline(never)
func windowedPairs<A: ObjectAllocator>(_ allocator: A, rounds: Int, window: Int,
                                       slots: UnsafeMutablePointer<UnsafeMutableRawPointer>) -> UInt64 {
    var checksum: UInt64 = 0
    for round in 0..<rounds {
        for i in 0..<window {
            guard let object = allocator.allocate() else { fatalError("allocation failed") }
            object.storeBytes(of: UInt8(truncatingIfNeeded: round &+ i), toByteOffset: touchOffset, as: UInt8.self)
            slots[i] = object
        }
        for i in 0..<window {
            let object = slots[i]
            checksum &+= UInt64(UInt(bitPattern: object)) ^ UInt64(object.load(fromByteOffset: touchOffset, as: UInt8.self))
            allocator.free(object)
        }
    }
    return checksum
}

/// `rounds` batches through `allocate(bulk:)` and `free(bulk:)`.
@inline(never)
func bulkBatches(_ cache: SlabCache, rounds: Int, batch: UnsafeMutableBufferPointer<UnsafeMutableRawPointer>) -> UInt64 {
    var checksum: UInt64 = 0
    for round in 0..<rounds {
        guard cache.allocate(bulk: batch) else { fatalError("bulk allocation failed") }
        for i in 0..<batch.count {
            batch[i].storeBytes(of: UInt8(truncatingIfNeeded: round &+ i), toByteOffset: touchOffset, as: UInt8.self)
        }
        for i in 0..<batch.count {
            let object = batch[i]
            checksum &+= UInt64(UInt(bitPattern: object)) ^ UInt64(object.load(fromByteOffset: touchOffset, as: UInt8.self))
        }
        cache.free(bulk: UnsafeBufferPointer(batch))
    }
    return checksum
}

/// A fresh cache with the default configuration (thread caches on).
func makeCache(objectSize: Int) throws -> SlabCache {
    try SlabCache(.init(name: "bench-\(objectSize)", objectSize: objectSize))
}

// MARK: Figures

struct PairFigure: Codable {
    var objectSize: Int
    var slabNs: Double
    var mallocNs: Double
    var slabOverMalloc: Double
}

struct BulkFigure: Codable {
    var batch: Int
    var singleNsPerObject: Double
    var bulkNsPerObject: Double
    var bulkOverSingle: Double
}

struct ReclaimFigure: Codable {
    var bytesAllocated: Int
    var objects: Int
    var pagesFreed: Int
    var slabsFreed: Int
    var objectsFreed: Int
    var seconds: Double
    var pagesPerSecond: Double
    var rssBeforeBytes: Int
    var rssAfterBytes: Int
}

/// Slab vs malloc, ns per alloc+free pair.
func measurePairs(objectSize: Int, window: Int, options: BenchOptions, checksum: inout UInt64) throws -> PairFigure {
    let rounds = max(1, options.operations / window)
    let pairs = Double(rounds * window)
    let slots = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: window)
    defer { slots.deallocate() }
    let cache = try makeCache(objectSize: objectSize)
    let slab = SlabAllocator(cache: cache)
    let heap = MallocAllocator(size: objectSize)
    let slabNs = medianNanoseconds(repetitions: options.repetitions, checksum: &checksum) {
        windowedPairs(slab, rounds: rounds, window: window, slots: slots)
    } / pairs
    let mallocNs = medianNanoseconds(repetitions: options.repetitions, checksum: &checksum) {
        windowedPairs(heap, rounds: rounds, window: window, slots: slots)
    } / pairs
    return PairFigure(objectSize: objectSize, slabNs: slabNs, mallocNs: mallocNs, slabOverMalloc: slabNs / mallocNs)
}

/// One at a time vs bulk, same batch size, ns per object; a fresh cache for
/// each so neither inherits the other's slab state.
func measureBulk(batch: Int, objectSize: Int, options: BenchOptions, checksum: inout UInt64) throws -> BulkFigure {
    let rounds = max(1, options.operations / batch)
    let objects = Double(rounds * batch)
    let buffer = UnsafeMutableBufferPointer<UnsafeMutableRawPointer>.allocate(capacity: batch)
    defer { buffer.deallocate() }
    let singleCache = try makeCache(objectSize: objectSize)
    let single = SlabAllocator(cache: singleCache)
    let singleNs = medianNanoseconds(repetitions: options.repetitions, checksum: &checksum) {
        windowedPairs(single, rounds: rounds, window: batch, slots: buffer.baseAddress!)
    } / objects
    let bulkCache = try makeCache(objectSize: objectSize)
    let bulkNs = medianNanoseconds(repetitions: options.repetitions, checksum: &checksum) {
        bulkBatches(bulkCache, rounds: rounds, batch: buffer)
    } / objects
    return BulkFigure(batch: batch, singleNsPerObject: singleNs, bulkNsPerObject: bulkNs,
                      bulkOverSingle: bulkNs / singleNs)
}

/// Fills a reclaimable cache with `bytes` of unused objects (count 1) and
/// times `reclaim(pages: Int.max)`; the median pass is reported.
func measureReclaim(bytes: Int, options: BenchOptions, checksum: inout UInt64) throws -> ReclaimFigure {
    let cache = try SlabCache(.init(name: "bench-reclaim", objectSize: 128, reclaimable: true))
    let count = bytes / cache.configuration.objectStride
    // Allocated before the RSS readings so it is in both.
    var objects = [UnsafeMutableRawPointer](repeating: UnsafeMutableRawPointer(bitPattern: 1)!, count: count)
    var passes: [ReclaimFigure] = []
    // One untimed pass first, as for the other figures.
    for _ in 0...options.repetitions {
        for i in 0..<count {
            guard let object = cache.allocate() else { fatalError("reclaim cache exhausted") }
            ObjectReference(object).setCount(1)
            objects[i] = object
        }
        let rssBefore = ProcessMemory.residentBytes()
        let start = monotonicNanoseconds()
        let result = cache.reclaim(pages: Int.max)
        let end = monotonicNanoseconds()
        let rssAfter = ProcessMemory.residentBytes()
        checksum &+= UInt64(result.pagesFreed) &+ UInt64(UInt(bitPattern: objects[count / 2]))
        let seconds = Double(end - start) / 1e9
        passes.append(ReclaimFigure(bytesAllocated: bytes, objects: count, pagesFreed: result.pagesFreed,
                                    slabsFreed: result.slabsFreed, objectsFreed: result.objectsFreed,
                                    seconds: seconds, pagesPerSecond: Double(result.pagesFreed) / seconds,
                                    rssBeforeBytes: rssBefore, rssAfterBytes: rssAfter))
    }
    passes.removeFirst()
    return passes.sorted { $0.seconds < $1.seconds }[passes.count / 2]
}
