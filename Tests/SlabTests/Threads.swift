import Glibc

/// Runs `body` on a new POSIX thread and joins it, so that the thread's exit
/// (and the allocator's exit hook) has happened when this returns.
@discardableResult
func runOnNewThread(_ body: @escaping @Sendable () -> Void) -> Int32 {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    let rc = pthread_create(&thread, nil, { @Sendable raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    guard rc == 0 else { return rc }
    return pthread_join(thread, nil)
}
