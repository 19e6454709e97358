@testable import DCache
import Glibc
import Slab
import Testing

@Suite("Pressure sources")
struct PressureTests {
    @Test("a PSI event makes the reclaim thread give back a share of the resident pages")
    func psiEvent() throws {
        let cache = try makeCache { $0.psiReclaimFraction = 0.5 }
        try makeRoot(cache)
        try populate(cache, files: 8192)
        let before = cache.residentPages
        // What the PSI thread does when poll() reports POLLPRI.
        cache.reclaimer.signal(.psi)
        cache.waitForReclaim()
        #expect(cache.residentPages <= before - before / 2 + 2)
        #expect(cache.statistics()[.pressurePSI] == 1)
        #expect(cache.lastReclaim?.source == "psi")
    }

    @Test("the PSI trigger is registered on /proc/pressure/memory and stops cleanly",
          .enabled(if: access("/proc/pressure/memory", W_OK) == 0, "PSI not writable here"))
    func psiTrigger() throws {
        let cache = try makeCache { $0.psiThresholdMicroseconds = 150_000 }
        let monitor = try #require(cache.pressure)
        #expect(monitor.unavailableReason == nil)
        #expect(monitor.isActive)
        monitor.stop()
        #expect(!monitor.isActive)
    }

    @Test("an explicit reclaim request is counted by its source")
    func explicit() throws {
        let cache = try makeCache()
        try makeRoot(cache)
        try populate(cache, files: 512)
        let report = cache.reclaim(pages: 4, source: .explicit)
        #expect(cache._invariantViolations() == [])
        #expect(report.source == "explicit")
        #expect(cache.statistics()[.pressureExplicit] == 1)
        #expect(cache.statistics()[.evictionsReclaim] == report.evicted)
    }

    @Test("a bad configuration is refused with a clear error")
    func badConfiguration() {
        #expect(throws: DCacheError.invalidConfiguration("watermarks must satisfy 0 < low <= high <= 1")) {
            _ = try makeCache { $0.lowWatermark = 0.9; $0.highWatermark = 0.5 }
        }
    }
}
