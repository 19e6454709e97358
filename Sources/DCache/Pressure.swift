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
    /// slow to answer drop requests) freed less than it wanted, and nothing else
    /// would run another until the cache grows. That pass asks for no
    /// drop requests: those stay one batch per pressure event, so that passes woken
    /// by the FORGETs they bring do not ask again and again until the
    /// kernel has let go of its whole working set.
    ///
    /// A budget pass that stopped above the low watermark (the kernel held
    /// what it would have freed, and drops were requested) leaves a debt: the
    /// FORGETs those drops bring wake passes until the cache is down to the
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
    func respond(to source: PressureSource, mayAskKernel: Bool = true) {
        let budget = settings.withLock { $0.budgetBytes }
        let resident = residentPages
        let target: Int
        let lowPages = lowWatermarkPages(budget: budget)
        switch source {
        case .budget, .explicit:
            guard budget > 0 else { return }
            target = resident - lowPages
        case .psi, .cgroup:
            target = Int(Double(resident) * configuration.psiReclaimFraction)
        }
        guard target > 0 else {
            if source == .budget { reclaimer.owesPages.store(false, ordering: .relaxed) }
            return
        }
        let report = reclaim(pages: target, source: source, mayAskKernel: mayAskKernel)
        if source == .budget {
            // Owed while short of the low watermark, as long as passes free
            // something (the first, or what the FORGETs of dropped entries let go).
            let short = budget > 0 && residentPages > lowPages
            reclaimer.owesPages.store(short && (mayAskKernel || report.pagesFreed > 0 || report.evicted > 0), ordering: .relaxed)
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
    private var psi: Int32 = -1
    private var cgroup: CgroupPressure?
    private var stopPipe: [Int32] = [-1, -1]
    private var thread: pthread_t?
    private weak var cache: DirectoryCache?
    /// What each source watches, or why it is off: `psi`, `cgroup`.
    private(set) var sources: [String: String] = [:]
    /// The trigger's window in microseconds, once registered.
    private(set) var window = 0

    init(cache: DirectoryCache) {
        self.cache = cache
        let threshold = cache.configuration.psiThresholdMicroseconds
        var trigger = "some \(threshold) 1000000"
        psi = open("/proc/pressure/memory", O_RDWR | O_NONBLOCK | O_CLOEXEC)
        if psi < 0 {
            sources["psi"] = "off: cannot open /proc/pressure/memory: \(String(cString: strerror(errno)))"
        } else {
            // A 1 s window needs CAP_SYS_RESOURCE; without it the kernel takes
            // only multiples of 2 s, so fall back to 2 s at the same stall rate.
            var accepted = false
            for (stall, window) in [(threshold, 1_000_000), (threshold * 2, 2_000_000)] where !accepted {
                let candidate = "some \(stall) \(window)"
                accepted = candidate.withCString { write(psi, $0, strlen($0) + 1) } > 0
                if accepted { (self.window, trigger) = (window, candidate) }
            }
            if accepted {
                sources["psi"] = "/proc/pressure/memory (\(trigger))"
            } else {
                sources["psi"] = "off: PSI trigger refused: \(String(cString: strerror(errno)))"
                close(psi)
                psi = -1
            }
        }
        switch CgroupPressure.register(trigger: trigger) {
        case .success(let registered):
            cgroup = registered
            sources["cgroup"] = registered.description
        case .failure(let unavailable):
            sources["cgroup"] = "off: " + unavailable.reason
        }
        guard psi >= 0 || cgroup != nil else { return }
        guard pipe(&stopPipe) == 0 else {
            sources["thread"] = "off: pipe failed"
            return
        }
        var thread = pthread_t()
        guard pthread_create(&thread, nil, pressureThreadMain, Unmanaged.passRetained(self).toOpaque()) == 0 else {
            sources["thread"] = "off: cannot start the pressure thread"
            return
        }
        self.thread = thread
    }

    var isActive: Bool { thread != nil }

    fileprivate func run() {
        // A source that failed polls as -1 (ignored by poll).
        var fds = [pollfd(fd: stopPipe[0], events: Int16(POLLIN), revents: 0),
                   pollfd(fd: psi, events: Int16(POLLPRI), revents: 0),
                   pollfd(fd: cgroup?.descriptor ?? -1, events: cgroup?.events ?? 0, revents: 0)]
        while true {
            let n = poll(&fds, nfds_t(fds.count), -1)
            if n < 0 && errno == EINTR { continue }
            guard n > 0, fds[0].revents == 0 else { return }
            if fds[1].revents & Int16(POLLERR) != 0 { fds[1].fd = -1 }
            if fds[2].revents & Int16(POLLERR | POLLHUP) != 0 { fds[2].fd = -1 }
            if fds[1].revents & Int16(POLLPRI) != 0 { cache?.reclaimer.signal(.psi) }
            if fds[2].fd >= 0 && fds[2].revents & fds[2].events != 0 {
                cgroup?.acknowledge()
                cache?.reclaimer.signal(.cgroup)
            }
            if fds[1].fd < 0 && fds[2].fd < 0 { return }
        }
    }

    func stop() {
        if let thread {
            var byte: UInt8 = 1
            _ = write(stopPipe[1], &byte, 1)
            pthread_join(thread, nil)
            self.thread = nil
            close(stopPipe[0])
            close(stopPipe[1])
        }
        if psi >= 0 { close(psi) }
        cgroup?.close()
    }
}

private func pressureThreadMain(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let monitor = Unmanaged<PressureMonitor>.fromOpaque(raw!).takeRetainedValue()
    monitor.run()
    return nil
}
