import Testing
@testable import SlabFS

/// The daemon's log lines through swift-log's handler.
@Suite struct LogTests {
    @Test("a daemon message is one line 'slabfs: ...'; libfuse's keep their own form")
    func lines() {
        #expect(StandardErrorLogHandler.line(label: "slabfs", message: "cannot start") == "slabfs: cannot start\n")
        #expect(StandardErrorLogHandler.line(label: StandardErrorLogHandler.libfuseLabel, message: "unique: 2")
            == "unique: 2\n")
    }

    // No test mounts in this process (MountSupport runs the binary), so
    // nothing else moves the process-wide level meanwhile.
    @Test("info by default: errors pass, debug does not; -d lowers the threshold to debug for every logger")
    func levels() {
        #expect(daemonLog.logLevel == .info)
        LibfuseLog.shared.forwardAll(true)
        #expect(daemonLog.logLevel == .debug && libfuseLogger.logLevel == .debug)
        LibfuseLog.shared.forwardAll(false)
        #expect(daemonLog.logLevel == .info && libfuseLogger.logLevel == .info)
    }
}
