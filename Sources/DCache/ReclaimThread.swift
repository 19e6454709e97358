import Glibc
import Synchronization

/// The thread that runs reclaim passes on request.
final class ReclaimThread: @unchecked Sendable {
    /// A budget pass fell short of the low watermark (`noteUnpinned`).
    let owesPages = Atomic<Bool>(false)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var pending: Set<DirectoryCache.PressureSource> = []
    /// A pass that asks the kernel for nothing is wanted (`noteUnpinned`).
    private var unpinned = false
    private var running = false
    private var busy = false
    private var stopping = false
    private var thread: pthread_t?
    private weak var cache: DirectoryCache?

    init() {
        mutex.initialize(to: pthread_mutex_t())
        condition.initialize(to: pthread_cond_t())
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    func attach(_ cache: DirectoryCache) { self.cache = cache }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    func signal(_ source: DirectoryCache.PressureSource) {
        wake { pending.insert(source) }
    }

    func signalUnpinned() {
        wake { unpinned = true }
    }

    private func wake(_ note: () -> Void) {
        let start: Bool = locked {
            guard !stopping else { return false }
            note()
            pthread_cond_broadcast(condition)
            if running { return false }
            running = true
            return true
        }
        if start { spawn() }
    }

    private func spawn() {
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, reclaimThreadMain, Unmanaged.passRetained(self).toOpaque())
        precondition(rc == 0, "cannot start the reclaim thread: \(rc)")
        locked { self.thread = thread }
    }

    fileprivate func run() {
        while true {
            let next: (source: DirectoryCache.PressureSource, mayAskKernel: Bool)? = locked {
                while pending.isEmpty && !unpinned && !stopping {
                    busy = false
                    pthread_cond_broadcast(condition)
                    pthread_cond_wait(condition, mutex)
                }
                if stopping { return nil }
                busy = true
                if !pending.isEmpty { return (pending.removeFirst(), true) }
                unpinned = false
                return (.budget, false)
            }
            guard let next else { return }
            cache?.respond(to: next.source, mayAskKernel: next.mayAskKernel)
        }
    }

    func waitUntilIdle() {
        locked {
            while running && (busy || !pending.isEmpty || unpinned) && !stopping { pthread_cond_wait(condition, mutex) }
        }
    }

    func stop() {
        let thread: pthread_t? = locked {
            stopping = true
            pthread_cond_broadcast(condition)
            return self.thread
        }
        guard let thread else { return }
        // The last reference may be dropped on the reclaim thread itself.
        if pthread_equal(thread, pthread_self()) != 0 {
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
        }
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }
}

private func reclaimThreadMain(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let thread = Unmanaged<ReclaimThread>.fromOpaque(raw!).takeRetainedValue()
    thread.run()
    return nil
}
