import Glibc
import Slab

@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// Runs `body` once untimed, then `repetitions` times timed; returns the
/// median elapsed nanoseconds. Every run's checksum goes into `checksum` so
/// the optimizer has to keep the work.
func medianNanoseconds(repetitions: Int, checksum: inout UInt64, _ body: () -> UInt64) -> Double {
    checksum &+= body()
    var samples: [Double] = []
    for _ in 0..<repetitions {
        let start = monotonicNanoseconds()
        let sum = body()
        let end = monotonicNanoseconds()
        checksum &+= sum
        samples.append(Double(end - start))
    }
    return median(samples)
}

/// One object at a time; a protocol (not closures) so each benchmark loop is
/// specialized and both allocators pay for the same code around the call.
protocol ObjectAllocator {
    func allocate() -> UnsafeMutableRawPointer?
    func free(_ object: UnsafeMutableRawPointer)
}

struct MallocAllocator: ObjectAllocator {
    let size: Int
    @inline(__always) func allocate() -> UnsafeMutableRawPointer? { Glibc.malloc(size) }
    @inline(__always) func free(_ object: UnsafeMutableRawPointer) { Glibc.free(object) }
}

struct SlabAllocator: ObjectAllocator {
    let cache: SlabCache
    @inline(__always) func allocate() -> UnsafeMutableRawPointer? { cache.allocate() }
    @inline(__always) func free(_ object: UnsafeMutableRawPointer) { cache.free(object) }
}

/// Byte written into every object. Past offset 4..<8 (a free slot's link)
/// and inside the smallest object measured.
let touchOffset = 8
