import CFuse
import DCache
import Glibc
import Synchronization

/// The thread that asks the kernel to let go of entries.
///
/// The cache wants the kernel to drop an entry when the inode behind it is
/// pinned only by the kernel's lookup count (reclaim falls short, or the
/// mount has a kernel cache limit): fuse_lowlevel_notify_inval_entry makes
/// the kernel drop its dentry, and FORGET follows once nothing uses the
/// inode. That call must come from a thread of its own: from a request
/// handler, or with a lock a handler needs, it can deadlock (the kernel
/// takes the parent directory's lock, which a request in flight may hold
/// while it waits for our reply). So `enqueue` (the cache's kernel drop
/// handler, called from reclaim on any thread) only queues, and this thread
/// sends.
///
/// With a kernel cache limit it also keeps the number of inodes the kernel
/// holds under the limit: woken when a reply passes it, and once a second,
/// it requests drops of the coldest entries (second chance, see
/// `DirectoryCache.requestKernelDropsSecondChance`). And it gives back the
/// passthrough registrations the kernel's FORGETs end
/// (`enqueueBackingClose`).
final class KernelDropThread: @unchecked Sendable {
    private let lock = ConditionLock()
    // Under `lock`:
    private var queue: [KernelDropRequest] = []
    /// Passthrough registrations to give back (FUSE_DEV_IOC_BACKING_CLOSE).
    private var backingCloses: [Int32] = []
    private var overLimit = false
    private var stopping = false
    private var session: OpaquePointer?
    private var thread: pthread_t?
    private var sent = 0
    private var alreadyGone = 0

    private unowned let cache: DirectoryCache
    /// Gives a registration back to the kernel; set once, before `start`.
    var closeBacking: (@Sendable (Int32) -> Void)?
    /// Read on every reply that counts lookups: an atomic, not the lock.
    private let limit: Atomic<Int>

    /// Inodes the kernel may hold before drops are requested; 0 = no limit.
    /// Settable while mounted (`user.slabfs.kernel_cache_limit`): a lower
    /// limit the kernel is above wakes the thread at once.
    var kernelCacheLimit: Int {
        get { limit.load(ordering: .relaxed) }
        set {
            precondition(newValue >= 0, "the kernel cache limit must not be negative")
            limit.store(newValue, ordering: .relaxed)
            locked {
                overLimit = true
                lock.broadcast()
            }
        }
    }

    init(cache: DirectoryCache, kernelCacheLimit: Int) {
        self.cache = cache
        limit = Atomic(kernelCacheLimit)
    }

    private func locked<R>(_ body: () -> R) -> R { lock.locked(body) }

    /// Starts the thread for `session`; signals stay blocked in it, so that
    /// SIGINT and SIGTERM reach the loop's thread.
    func start(session: OpaquePointer) {
        locked { self.session = session }
        switch startBackgroundThread({ self.run() }) {
        case .success(let thread): locked { self.thread = thread }
        case .failure(let error): logError("cannot start the kernel drop thread: \(error)")
        }
    }

    /// Stops and joins the thread; call before the session is destroyed.
    func stop() {
        let thread: pthread_t? = locked {
            stopping = true
            lock.broadcast()
            return self.thread
        }
        if let thread { pthread_join(thread, nil) }
        let closes: [Int32] = locked {
            self.thread = nil
            defer { backingCloses.removeAll() }
            return backingCloses
        }
        if let closeBacking { closes.forEach(closeBacking) }
    }

    /// The cache's kernel drop handler: queues, never calls into the kernel.
    func enqueue(_ requests: [KernelDropRequest]) {
        locked {
            queue += requests
            lock.broadcast()
        }
    }

    /// Queues a passthrough registration to give back. Its close (the
    /// kernel's last reference to the backing file: its release, a close
    /// event to our own watcher) costs the thread that makes it about as
    /// much as a request; when the kernel forgets thousands of inodes at
    /// once (drop_caches, memory pressure), the request thread would pay it
    /// before the lookups queued behind the FORGETs.
    func enqueueBackingClose(_ id: Int32) {
        locked {
            backingCloses.append(id)
            lock.broadcast()
        }
    }

    /// Called after replies that count lookups: wakes the thread when the
    /// kernel holds more inodes than the limit.
    @inline(__always)
    func noteKernelLookups() {
        let kernelCacheLimit = self.kernelCacheLimit
        guard kernelCacheLimit > 0, cache.kernelHeldInodes > kernelCacheLimit else { return }
        locked {
            if !overLimit {
                overLimit = true
                lock.broadcast()
            }
        }
    }

    /// Notifications sent, and how many found the entry already gone.
    var counts: (sent: Int, alreadyGone: Int) { locked { (sent, alreadyGone) } }

    fileprivate func run() {
        // After an enforcement pass, give the kernel time to send FORGETs
        // before counting again (100 ms), or, when nothing could be
        // dropped, a second; wakes for the limit are ignored meanwhile, so
        // a mount full of open files does not make this thread spin.
        var delay = 1000
        var backingOff = false
        while true {
            let taken: ([KernelDropRequest], [Int32], OpaquePointer?)? = locked {
                if queue.isEmpty && backingCloses.isEmpty && !stopping && !(overLimit && !backingOff) {
                    lock.wait(milliseconds: delay)
                }
                if stopping { return nil }
                let batch = queue, closes = backingCloses
                queue.removeAll(keepingCapacity: true)
                backingCloses.removeAll(keepingCapacity: true)
                overLimit = false
                return (batch, closes, self.session)
            }
            guard let (batch, closes, session) = taken else { return }
            if let closeBacking { closes.forEach(closeBacking) }
            guard let session else { continue }
            send(batch, session: session)
            let kernelCacheLimit = self.kernelCacheLimit
            guard kernelCacheLimit > 0 else { continue }
            guard let requested = enforceLimit(kernelCacheLimit) else {
                backingOff = false
                delay = 1000
                continue
            }
            if requested > 0 {
                send(locked { () -> [KernelDropRequest] in
                    defer { queue.removeAll(keepingCapacity: true) }
                    return queue
                }, session: session)
            }
            backingOff = true
            delay = requested > 0 ? 100 : 1000
        }
    }

    private func send(_ batch: [KernelDropRequest], session: OpaquePointer) {
        var sentHere = 0, goneHere = 0
        for request in batch {
            let rc = notifyInvalidEntry(session, parent: request.parent, name: request.name)
            if rc == 0 { sentHere += 1 } else if rc == -ENOENT { goneHere += 1 }
        }
        locked {
            sent += sentHere
            alreadyGone += goneHere
        }
    }

    /// Requests drops for the excess over the limit (they arrive through
    /// `enqueue`); how many, or nil when the kernel holds no more than the
    /// limit.
    private func enforceLimit(_ kernelCacheLimit: Int) -> Int? {
        let excess = cache.kernelHeldInodes - kernelCacheLimit
        guard excess > 0 else { return nil }
        // A little below the limit, so that a busy mount does not ask on
        // every lookup; at most a few thousand per turn.
        let slack = max(1, kernelCacheLimit / 16)
        return cache.requestKernelDropsSecondChance(max: min(excess + slack, 4096))
    }
}

/// fuse_lowlevel_notify_inval_entry for a name held as bytes: 0, or -errno
/// (-ENOENT: the kernel no longer has the entry). Only from a thread of its
/// own, with no lock a request handler takes (see KernelDropThread).
func notifyInvalidEntry(_ session: OpaquePointer, parent: NodeID, name: [UInt8]) -> Int32 {
    // libfuse sends namelen + 1 bytes: the name must end in a NUL.
    let cName = name.map { CChar(bitPattern: $0) } + [0]
    return cName.withUnsafeBufferPointer {
        fuse_lowlevel_notify_inval_entry(session, parent.rawValue, $0.baseAddress, $0.count - 1)
    }
}
