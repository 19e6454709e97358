import Glibc

/// Monotonic time in sixteenths of a second since the cache started, the
/// unit of the 32-bit expiry fields (wraps after 8 years).
final class Clock: Sendable {
    private let start: Int64

    init() { start = Clock.monotonicNanoseconds(CLOCK_MONOTONIC_COARSE) }

    static func monotonicNanoseconds(_ clock: clockid_t = CLOCK_MONOTONIC) -> Int64 {
        var now = timespec()
        clock_gettime(clock, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// For durations (reclaim reports): the precise clock.
    func nanoseconds() -> Int64 { Clock.monotonicNanoseconds() - start }

    /// Every lookup and insert reads it: the coarse clock (a few
    /// milliseconds' resolution, far below a tick) costs less to read than
    /// the precise one, which a VM may have to ask the hypervisor for.
    var ticks: UInt32 {  // 2^26 ns = 1/15.9 s
        UInt32(truncatingIfNeeded: (Clock.monotonicNanoseconds(CLOCK_MONOTONIC_COARSE) - start) >> 26)
    }

    /// The tick after which something valid for `seconds` has expired.
    func expiry(after seconds: Double) -> UInt32 {
        guard seconds > 0 else { return 0 }
        let ticks = min(seconds * 1e9 / Double(1 << 26), Double(UInt32.max / 2))
        return self.ticks &+ UInt32(ticks.rounded(.up)) | 1
    }

    func isBefore(_ expiry: UInt32) -> Bool {
        expiry != 0 && Int32(bitPattern: expiry &- ticks) > 0
    }
}
