import Glibc

/// A pthread mutex.
///
/// Not Synchronization.Mutex: that one's futex lives in the uninstrumented
/// standard library, so ThreadSanitizer cannot see it and reports every
/// access it protects as a race. pthread_mutex is intercepted by TSan, and
/// uncontended it costs a third of Mutex here (3-6 ns against 15-23 ns).
public final class Lock: @unchecked Sendable {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Inlinable: other modules (DCache's tables take a lock per lookup)
    /// otherwise call an unspecialised generic, which looks up the result's
    /// type metadata on every call.
    @inlinable @inline(__always)
    public func withLock<Result: ~Copyable, Failure: Error>(
        _ body: () throws(Failure) -> Result
    ) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A fixed number of pthread mutexes in one allocation: the stripe locks of
/// a striped table. A stripe's lock is an index here, not an object of its
/// own, so taking one retains and releases nothing (a `[Lock]` element is
/// retained for the length of its `withLock`, twice an atomic operation on
/// every lookup).
public final class LockArray: @unchecked Sendable {
    @usableFromInline let mutexes: UnsafeMutablePointer<pthread_mutex_t>
    public let count: Int

    public init(count: Int) {
        precondition(count > 0, "LockArray needs at least one lock")
        self.count = count
        mutexes = .allocate(capacity: count)
        mutexes.initialize(repeating: pthread_mutex_t(), count: count)
        for index in 0..<count {
            let rc = pthread_mutex_init(mutexes + index, nil)
            precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
        }
    }

    deinit {
        for index in 0..<count { pthread_mutex_destroy(mutexes + index) }
        mutexes.deallocate()
    }

    /// Runs `body` under lock number `index` (0 ..< count).
    @inlinable @inline(__always)
    public func withLock<Result: ~Copyable, Failure: Error>(
        _ index: Int, _ body: () throws(Failure) -> Result
    ) throws(Failure) -> Result {
        precondition(index >= 0 && index < count, "LockArray index out of range")
        let mutex = mutexes + index
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A value that is only reached under its lock.
public final class Locked<Value: ~Copyable>: @unchecked Sendable {
    private let lock = Lock()
    private var value: Value

    public init(_ value: consuming Value) {
        self.value = value
    }

    @inline(__always)
    public func withLock<Result: ~Copyable, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try lock.withLock { () throws(Failure) -> Result in try body(&value) }
    }
}
