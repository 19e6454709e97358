import Glibc
import Synchronization

// POSIX threads, not Swift tasks: the allocator's per-thread caches and its
// thread-exit hook are what the tests and benchmarks exercise.

/// Runs `body` on a new POSIX thread and joins it, so that the thread's exit
/// (and the allocator's exit hook) has happened when this returns. Returns
/// pthread_create's or pthread_join's error, 0 on success.
@discardableResult
public func runOnNewThread(_ body: @escaping @Sendable () -> Void) -> Int32 {
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, runBox, Unmanaged.passRetained(Box(body)).toOpaque())
    guard rc == 0 else { return rc }
    return pthread_join(thread, nil)
}

/// Runs `body(0)`, ..., `body(count - 1)` on `count` new POSIX threads at
/// once and joins them all.
public func runConcurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    var threads: [pthread_t] = []
    for index in 0..<count {
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, runBox, Unmanaged.passRetained(Box { body(index) }).toOpaque())
        precondition(rc == 0, "pthread_create failed: \(rc)")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// Runs `workers` threads of `work` beside one thread that repeats
/// `maintenance` until every worker is done: requests while reclaim runs,
/// the shape of every stress test here. Each thread draws from a generator
/// of its own, seeded with `seed` plus its index, so that a run replays.
public func runWorkers(_ workers: Int, seed: UInt64,
                       whileRepeating maintenance: @escaping @Sendable (inout SplitMix64) -> Void,
                       _ work: @escaping @Sendable (_ worker: Int, inout SplitMix64) -> Void) {
    let running = Atomic<Int>(workers)
    runConcurrently(workers + 1) { index in
        var random = SplitMix64(state: seed &+ UInt64(index))
        if index == workers {
            while running.load(ordering: .acquiring) > 0 { maintenance(&random) }
            return
        }
        defer { running.subtract(1, ordering: .releasing) }
        work(index, &random)
    }
}

/// Carries a closure through pthread_create's single pointer.
private final class Box: @unchecked Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

private func runBox(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
    return nil
}
