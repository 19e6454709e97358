import Glibc
import SystemPackage

/// Starts `body` on a new POSIX thread with every signal blocked in it, so
/// that SIGINT, SIGTERM and SIGHUP reach the request loop's thread (which
/// ends the session) and never a helper thread. Returns the thread to join,
/// or pthread_create's error number.
func startBackgroundThread(_ body: @escaping () -> Void) -> Result<pthread_t, Errno> {
    var thread = pthread_t()
    let box = Unmanaged.passRetained(ThreadBody(body))
    let rc = pthread_create(&thread, nil, backgroundThreadMain, box.toOpaque())
    guard rc == 0 else {
        box.release()
        return .failure(Errno(rawValue: rc))
    }
    return .success(thread)
}

private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

private func backgroundThreadMain(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let body = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
    var all = sigset_t()
    sigfillset(&all)
    pthread_sigmask(SIG_BLOCK, &all, nil)
    body.run()
    return nil
}
