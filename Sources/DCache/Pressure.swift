// Memory pressure: the budget (high and low watermarks), the kernel's PSI
// trigger, and explicit requests, all answered by one reclaim thread
// (ReclaimThread.swift) so that lookups never wait for a reclaim pass.

import Glibc
import Slab
import Synchronization

extension DirectoryCache {
    /// Called after the cache grows: past the high watermark, wake the
    /// reclaim thread (started on first need).
    func noteGrowth() {
        if isOverHighWatermark { reclaimer.signal(.budget) }
    }

    /// Called after the kernel let go of inodes, which may now be reclaimed:
    /// a pass that ran while the kernel held them (a budget cut, a kernel
    /// slow to answer kicks) freed less than it wanted, and nothing else
    /// would run another until the cache grows. That pass asks for no
    /// kicks: those stay one batch per pressure event, so that passes woken
    /// by the FORGETs of kicks do not kick again and again until the
    /// kernel has let go of its whole working set.
    ///
    /// A budget pass that stopped above the low watermark (the kernel held
    /// what it would have freed, and kicks were sent) leaves a debt: the
    /// FORGETs those kicks bring wake passes until the cache is down to the
    /// low watermark, or a pass frees nothing.
    func noteUnpinned() {
        if isOverHighWatermark || (reclaimer.owesPages.load(ordering: .relaxed) && residentPages > lowWatermarkPages) {
            reclaimer.signalUnpinned()
        }
    }

    private var isOverHighWatermark: Bool {
        let budget = settings.withLock { $0.budgetBytes }
        guard budget > 0 else { return false }
        return residentPages > Int(Double(budget) * configuration.highWatermark) / systemPageSize
    }

    /// Pages budget reclaim brings the cache down to (0: no budget).
    func lowWatermarkPages(budget: Int) -> Int {
        Int(Double(budget) * configuration.lowWatermark) / systemPageSize
    }

    private var lowWatermarkPages: Int { lowWatermarkPages(budget: settings.withLock { $0.budgetBytes }) }

    /// One reclaim pass for `source`, down to the low watermark (budget) or
    /// by a fraction of what is resident (PSI).
    func respond(to source: PressureSource, mayKick: Bool = true) {
        let budget = settings.withLock { $0.budgetBytes }
        let resident = residentPages
        let target: Int
        let lowPages = lowWatermarkPages(budget: budget)
        switch source {
        case .budget, .explicit:
            guard budget > 0 else { return }
            target = resident - lowPages
        case .psi:
            target = Int(Double(resident) * configuration.psiReclaimFraction)
        }
        guard target > 0 else {
            if source == .budget { reclaimer.owesPages.store(false, ordering: .relaxed) }
            return
        }
        let report = reclaim(pages: target, source: source, mayKick: mayKick)
        if source == .budget {
            // Owed while short of the low watermark, as long as passes free
            // something (the first, or what the kicks' FORGETs let go).
            let short = budget > 0 && residentPages > lowPages
            reclaimer.owesPages.store(short && (mayKick || report.pagesFreed > 0 || report.evicted > 0), ordering: .relaxed)
        }
    }

    /// Blocks until the reclaim thread has nothing pending (for tests and
    /// benchmarks that need a settled cache).
    public func waitForReclaim() {
        reclaimer.waitUntilIdle()
    }
}

/// The kernel's PSI trigger on /proc/pressure/memory: the kernel wakes a
/// poll() with POLLPRI when memory stalls exceed the threshold within a
/// window. Each event asks the reclaim thread for a pass.
final class PressureMonitor: @unchecked Sendable {
    private let fd: Int32
    private var stopPipe: [Int32] = [-1, -1]
    private var thread: pthread_t?
    private weak var cache: DirectoryCache?
    /// Why PSI is unavailable, if it is (no /proc/pressure, no permission).
    private(set) var unavailableReason: String?
    /// The trigger's window in microseconds, once registered.
    private(set) var window = 0

    init(cache: DirectoryCache) {
        self.cache = cache
        let threshold = cache.configuration.psiThresholdMicroseconds
        fd = open("/proc/pressure/memory", O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            unavailableReason = "cannot open /proc/pressure/memory: \(String(cString: strerror(errno)))"
            return
        }
        // A 1 s window needs CAP_SYS_RESOURCE; without it the kernel takes
        // only multiples of 2 s, so fall back to 2 s at the same stall rate.
        var accepted = false
        for (stall, window) in [(threshold, 1_000_000), (threshold * 2, 2_000_000)] where !accepted {
            let trigger = "some \(stall) \(window)"
            accepted = trigger.withCString { write(fd, $0, strlen($0) + 1) } > 0
            if accepted { self.window = window }
        }
        guard accepted else {
            unavailableReason = "PSI trigger refused: \(String(cString: strerror(errno)))"
            return
        }
        guard pipe(&stopPipe) == 0 else {
            unavailableReason = "pipe2 failed"
            return
        }
        var thread = pthread_t()
        guard pthread_create(&thread, nil, pressureThreadMain, Unmanaged.passRetained(self).toOpaque()) == 0 else {
            unavailableReason = "cannot start the PSI thread"
            return
        }
        self.thread = thread
    }

    var isActive: Bool { thread != nil }

    fileprivate func run() {
        var fds = [pollfd(fd: fd, events: Int16(POLLPRI), revents: 0),
                   pollfd(fd: stopPipe[0], events: Int16(POLLIN), revents: 0)]
        while true {
            let n = poll(&fds, 2, -1)
            if n < 0 && errno == EINTR { continue }
            guard n > 0, fds[1].revents == 0 else { return }
            if fds[0].revents & Int16(POLLERR) != 0 { return }
            if fds[0].revents & Int16(POLLPRI) != 0 { cache?.reclaimer.signal(.psi) }
        }
    }

    func stop() {
        guard let thread else {
            if fd >= 0 { close(fd) }
            return
        }
        var byte: UInt8 = 1
        _ = write(stopPipe[1], &byte, 1)
        pthread_join(thread, nil)
        self.thread = nil
        close(stopPipe[0])
        close(stopPipe[1])
        close(fd)
    }
}

private func pressureThreadMain(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let monitor = Unmanaged<PressureMonitor>.fromOpaque(raw!).takeRetainedValue()
    monitor.run()
    return nil
}
