import CFuse
import Glibc
import Synchronization

/// The one-thread request loop (`--threads 1`, the default): libfuse's
/// `fuse_session_loop`, except that after a reply the thread polls
/// /dev/fuse for a while before it sleeps.
///
/// Why: a client's next request usually comes 10-20 us after our reply. A
/// daemon asleep in read(2) by then must be woken on the other core, and on
/// this VM that wake-up (an IPI to a halted vCPU) cost more than the whole
/// daemon side of a cached lookup: a cold stat took 25-28 us with libfuse's
/// loop and 14-16 us polling. The price is CPU: while a client keeps
/// asking, the thread spins through its gaps instead of sleeping.
///
/// How long it polls adapts as the kernel's cpuidle haltpoll governor does
/// (drivers/cpuidle/governors/haltpoll.c): `PollWindow`.
final class RequestLoop: Sendable {
    /// The bound in microseconds (`--poll-us`, `user.slabfs.poll_us`);
    /// 0 never polls. Read once per idle period, so a change takes effect
    /// at the next one.
    private let bound: Atomic<Int>
    // Counters for the statistics; only the loop's thread writes them.
    private let queued = Atomic<Int>(0)
    private let caughtPolling = Atomic<Int>(0)
    private let afterSleep = Atomic<Int>(0)
    private let yields = Atomic<Int>(0)
    private let window = Atomic<Int>(0)
    /// Whether `run` serves the mount (not the multi-threaded loop).
    private let running = Atomic<Bool>(false)
    /// Requests by opcode.
    let requests = RequestCounts()

    init(maximumMicroseconds: Int) {
        bound = Atomic(maximumMicroseconds)
    }

    var statistics: RequestLoopStatistics? {
        guard running.load(ordering: .relaxed) else { return nil }
        return RequestLoopStatistics(
            queued: queued.load(ordering: .relaxed), caughtPolling: caughtPolling.load(ordering: .relaxed),
            afterSleep: afterSleep.load(ordering: .relaxed), yields: yields.load(ordering: .relaxed),
            pollWindowMicroseconds: window.load(ordering: .relaxed) / 1000)
    }

    var maximumMicroseconds: Int {
        get { bound.load(ordering: .relaxed) }
        set { bound.store(newValue, ordering: .relaxed) }
    }

    /// Serves requests until the session ends (unmount or signal). Returns
    /// 0, or -errno if reading /dev/fuse failed, as `fuse_session_loop`.
    func run(_ session: OpaquePointer) -> Int32 {
        let descriptor = fuse_session_fd(session)
        let flags = fcntl(descriptor, F_GETFL)
        // Without a non-blocking descriptor there is no polling: libfuse's loop.
        guard flags >= 0, fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) == 0 else {
            return fuse_session_loop(session)
        }
        defer { _ = fcntl(descriptor, F_SETFL, flags) }
        var buffer = fuse_buf()
        defer { free(buffer.mem) }
        running.store(true, ordering: .relaxed)
        var window = PollWindow(maximumNanoseconds: maximumMicroseconds * 1000)
        var idleSince: Int?
        var polled = false
        var slept = false
        // Whether to wait in poll(2) before reading: when this idle period
        // does not poll, a read that would only say EAGAIN is a wasted
        // system call (a sequential client's next request is rarely queued
        // by the time we have replied).
        var waitFirst = false
        // Preemption: getrusage is a system call, so it is asked only when
        // the clock suggests one (a gap between two turns of the polling
        // loop, or a request that took long to serve).
        var lastTurn = 0
        var servingSince = 0
        var preemptionSuspected = false
        var involuntarySwitches = Self.involuntarySwitches()
        var result: Int32 = 0
        while fuse_session_exited(session) == 0 {
            if waitFirst {
                waitFirst = false
                idleSince = Self.monotonicNanoseconds()
                window.setMaximum(nanoseconds: maximumMicroseconds * 1000)
                polled = false
                if let error = Self.waitForRequest(descriptor) {
                    result = error
                    break
                }
                slept = true
            }
            let received = fuse_session_receive_buf(session, &buffer)
            if received == -EAGAIN {
                let now = Self.monotonicNanoseconds()
                if idleSince == nil {
                    idleSince = now
                    window.setMaximum(nanoseconds: maximumMicroseconds * 1000)
                    polled = window.nanoseconds > 0
                    if servingSince > 0 && now - servingSince > Self.longServe { preemptionSuspected = true }
                } else if now - lastTurn > Self.turnGap {
                    preemptionSuspected = true
                }
                lastTurn = now
                if now - idleSince! < window.nanoseconds { continue }
                // Done polling: sleep until a request comes, the mount goes
                // (POLLERR) or a signal ends the loop (EINTR).
                if let error = Self.waitForRequest(descriptor) {
                    result = error
                    break
                }
                slept = true
                continue
            }
            // A signal: the idle period goes on, or the loop ends.
            if received == -EINTR { continue }
            // 0: the session ended (unmounted); below 0: a read error.
            if received <= 0 {
                result = received
                break
            }
            if let since = idleSince {
                let now = Self.monotonicNanoseconds()
                window.record(idleNanoseconds: now - since, at: now)
                // Polling pays only on a core nobody else wants: a thread
                // preempted while it polls is not there when the request
                // comes, where a sleeping one would have been woken first.
                // (Preempted while it served the last request counts too.)
                if polled && preemptionSuspected {
                    let switches = Self.involuntarySwitches()
                    if switches > involuntarySwitches {
                        window.yieldToOtherWork(at: now)
                        yields.add(1, ordering: .relaxed)
                    }
                    involuntarySwitches = switches
                }
                preemptionSuspected = false
                self.window.store(window.nanoseconds, ordering: .relaxed)
                if slept {
                    afterSleep.add(1, ordering: .relaxed)
                } else {
                    caughtPolling.add(1, ordering: .relaxed)
                }
                idleSince = nil
                slept = false
                servingSince = now
            } else {
                queued.add(1, ordering: .relaxed)
            }
            requests.count(buffer)
            fuse_session_process_buf(session, &buffer)
            // Not polling: the next request is waited for in poll(2) first.
            waitFirst = window.nanoseconds == 0
        }
        fuse_session_reset(session)
        return result
    }

    /// Nanoseconds between two turns of the polling loop (each a failed
    /// read, about a microsecond) that mean the thread was off the core.
    static let turnGap = 50_000
    /// A request served for longer than this may have been preempted.
    static let longServe = 500_000

    /// Sleeps in poll(2) until /dev/fuse has a request (or the mount is
    /// gone: POLLERR); nil, or -errno if poll failed for another reason
    /// than a signal.
    private static func waitForRequest(_ descriptor: CInt) -> Int32? {
        var wait = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        if poll(&wait, 1, -1) < 0 && errno != EINTR { return -errno }
        return nil
    }

    /// The calling thread's involuntary context switches (preemptions).
    private static func involuntarySwitches() -> Int {
        var usage = rusage()
        // RUSAGE_THREAD (1): Glibc exports the enum without its GNU case.
        getrusage(__rusage_who_t(1), &usage)
        return usage.ru_nivcsw
    }

    private static func monotonicNanoseconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now.tv_sec * 1_000_000_000 + now.tv_nsec
    }
}

/// How long to poll for the next request: grows when the daemon slept but
/// not for long (polling a little longer would have caught the request),
/// shrinks when it slept longer than the bound (requests are sparse, and
/// polling only burns CPU). The kernel's haltpoll governor, with its
/// defaults: grow by 2 from a start, shrink by 2. Besides, it closes for a
/// while when other work wants the core (`yieldToOtherWork`).
struct PollWindow {
    private(set) var maximumNanoseconds: Int
    private(set) var nanoseconds: Int
    /// No growth before this time (monotonic nanoseconds).
    private(set) var closedUntil = 0
    /// How long the last preemption closed the window.
    private(set) var hold = Self.shortestHold

    /// A single preemption (a kernel worker, the client woken on our core)
    /// closes the window briefly; preemptions that keep coming soon after
    /// it reopens (a CPU-bound neighbour: every few ms) double the hold up
    /// to `longestHold`, so a busy core is left alone.
    static let shortestHold = 1_000_000
    static let longestHold = 100_000_000

    /// Where growth starts from 0: a fifth of the bound, at most 10 us.
    var growthStart: Int { min(maximumNanoseconds / 5, 10_000) }

    init(maximumNanoseconds: Int) {
        self.maximumNanoseconds = max(0, maximumNanoseconds)
        nanoseconds = self.maximumNanoseconds
    }

    mutating func setMaximum(nanoseconds bound: Int) {
        maximumNanoseconds = max(0, bound)
        nanoseconds = min(nanoseconds, maximumNanoseconds)
    }

    /// Adapts to one idle period: the time from the end of a request to the
    /// arrival of the next one, polling and sleep together, ending at `now`.
    mutating func record(idleNanoseconds idle: Int, at now: Int = .max) {
        if idle > nanoseconds && idle <= maximumNanoseconds {
            guard now >= closedUntil else { return }
            nanoseconds = min(max(nanoseconds * 2, growthStart), maximumNanoseconds)
        } else if idle > maximumNanoseconds {
            nanoseconds /= 2
        }
    }

    /// Another runnable thread took the core while we polled: stop polling
    /// for a while, so that the loop sleeps and is woken (first, as a
    /// sleeper) when a request comes.
    mutating func yieldToOtherWork(at now: Int) {
        let soonAfterReopening = now - closedUntil < 4 * hold
        hold = soonAfterReopening ? min(hold * 2, Self.longestHold) : Self.shortestHold
        nanoseconds = 0
        closedUntil = now + hold
    }
}
