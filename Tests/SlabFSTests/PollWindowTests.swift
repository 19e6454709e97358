import Testing
@testable import SlabFS

/// The request loop's polling window: haltpoll's grow and shrink rules.
@Suite struct PollWindowTests {
    @Test("starts at the bound; a request caught while polling changes nothing")
    func caught() {
        var window = PollWindow(maximumNanoseconds: 50_000)
        #expect(window.nanoseconds == 50_000)
        window.record(idleNanoseconds: 12_000)
        #expect(window.nanoseconds == 50_000)
    }

    @Test("sparse requests (idle beyond the bound) halve the window down to 0")
    func shrinks() {
        var window = PollWindow(maximumNanoseconds: 50_000)
        window.record(idleNanoseconds: 2_000_000)
        #expect(window.nanoseconds == 25_000)
        for _ in 0..<20 { window.record(idleNanoseconds: 2_000_000) }
        #expect(window.nanoseconds == 0)
    }

    @Test("a sleep shorter than the bound grows the window from its start, doubling, up to the bound")
    func grows() {
        var window = PollWindow(maximumNanoseconds: 50_000)
        for _ in 0..<20 { window.record(idleNanoseconds: 2_000_000) }
        #expect(window.nanoseconds == 0)
        window.record(idleNanoseconds: 15_000)
        #expect(window.nanoseconds == 10_000)
        window.record(idleNanoseconds: 15_000)
        #expect(window.nanoseconds == 20_000)
        window.record(idleNanoseconds: 15_000)  // caught within 20 us: stays
        #expect(window.nanoseconds == 20_000)
        window.record(idleNanoseconds: 45_000)
        #expect(window.nanoseconds == 40_000)
        window.record(idleNanoseconds: 45_000)
        #expect(window.nanoseconds == 50_000)
    }

    @Test("a bound of 0 never polls; a lower bound set later caps the window at once")
    func bounds() {
        var never = PollWindow(maximumNanoseconds: 0)
        never.record(idleNanoseconds: 5_000)
        never.record(idleNanoseconds: 0)
        #expect(never.nanoseconds == 0)
        var window = PollWindow(maximumNanoseconds: 1_000_000)
        window.setMaximum(nanoseconds: 30_000)
        #expect(window.nanoseconds == 30_000)
        window.setMaximum(nanoseconds: 0)
        #expect(window.nanoseconds == 0)
        window.record(idleNanoseconds: 1)
        #expect(window.nanoseconds == 0)
    }
}

extension PollWindowTests {
    @Test("preempted while polling: the window closes, and stays closed against short sleeps for the hold")
    func yields() {
        var window = PollWindow(maximumNanoseconds: 100_000)
        let start = 5_000_000_000
        window.yieldToOtherWork(at: start)
        #expect(window.nanoseconds == 0)
        window.record(idleNanoseconds: 20_000, at: start + 1_000_000)
        #expect(window.nanoseconds == 0)
        window.record(idleNanoseconds: 20_000, at: start + PollWindow.yieldHold - 1)
        #expect(window.nanoseconds == 0)
        // Past the hold, a short sleep grows it again.
        window.record(idleNanoseconds: 20_000, at: start + PollWindow.yieldHold)
        #expect(window.nanoseconds == 10_000)
    }
}
