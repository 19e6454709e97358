import Testing
@testable import SlabFS

/// Records each step's idle time in turn, expecting the window it leaves.
private func record(_ steps: [(idle: Int, window: Int)], into window: inout PollWindow,
                    sourceLocation: SourceLocation = #_sourceLocation) {
    for (index, step) in steps.enumerated() {
        window.record(idleNanoseconds: step.idle)
        #expect(window.nanoseconds == step.window, "step \(index): \(step.idle) ns idle", sourceLocation: sourceLocation)
    }
}

/// The request loop's polling window: haltpoll's grow and shrink rules.
@Suite struct PollWindowTests {
    @Test("starts at the bound; a request caught while polling changes nothing")
    func caught() {
        var window = PollWindow(maximumNanoseconds: 50_000)
        #expect(window.nanoseconds == 50_000)
        record([(idle: 12_000, window: 50_000)], into: &window)
    }

    @Test("sparse requests (idle beyond the bound) halve the window down to 0")
    func shrinks() {
        var window = PollWindow(maximumNanoseconds: 50_000)
        record([(idle: 2_000_000, window: 25_000)], into: &window)
        for _ in 0..<20 { window.record(idleNanoseconds: 2_000_000) }
        #expect(window.nanoseconds == 0)
    }

    @Test("a sleep shorter than the bound grows the window from its start, doubling, up to the bound")
    func grows() {
        var window = PollWindow(maximumNanoseconds: 50_000)
        for _ in 0..<20 { window.record(idleNanoseconds: 2_000_000) }
        #expect(window.nanoseconds == 0)
        record([(idle: 15_000, window: 10_000),
                (idle: 15_000, window: 20_000),
                (idle: 15_000, window: 20_000),  // caught within 20 us: stays
                (idle: 45_000, window: 40_000),
                (idle: 45_000, window: 50_000)], into: &window)
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
    @Test("preempted: the window closes and stays closed against short sleeps for the hold, then grows again")
    func yields() {
        var window = PollWindow(maximumNanoseconds: 100_000)
        let start = 5_000_000_000
        window.yieldToOtherWork(at: start)
        #expect(window.nanoseconds == 0 && window.hold == PollWindow.shortestHold)
        window.record(idleNanoseconds: 20_000, at: start + PollWindow.shortestHold - 1)
        #expect(window.nanoseconds == 0)
        window.record(idleNanoseconds: 20_000, at: start + PollWindow.shortestHold)
        #expect(window.nanoseconds == 10_000)
    }

    @Test("preemptions soon after each reopening double the hold up to the longest; a lone one later resets it")
    func holdsEscalate() {
        var window = PollWindow(maximumNanoseconds: 100_000)
        var now = 5_000_000_000
        var holds: [Int] = []
        for _ in 0..<10 {
            window.yieldToOtherWork(at: now)
            holds.append(window.hold)
            now = window.closedUntil + 2_000_000  // preempted 2 ms after it reopens
        }
        #expect(holds.prefix(4) == [1_000_000, 2_000_000, 4_000_000, 8_000_000])
        #expect(holds.last == PollWindow.longestHold)
        window.yieldToOtherWork(at: window.closedUntil + 10 * PollWindow.longestHold)
        #expect(window.hold == PollWindow.shortestHold)
    }
}
