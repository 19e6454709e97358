import CFuse
import Glibc
import Logging
import Slab

// The daemon logs through swift-log, to a handler of its own that writes
// where the daemon always wrote: one line per message on stderr ("slabfs:
// ..."), with write(2) (the stderr global is not concurrency-safe in Swift
// 6). After daemonizing, stderr is /dev/null. No LoggingSystem.bootstrap:
// it may run once per process and is the program's to call, not a library's
// (the unit tests load SlabFS as well).
//
// Levels: info by default; -d lowers the threshold to debug, which lets
// libfuse's messages (the request trace among them) through. Otherwise
// libfuse's last error is only kept, so that a failure to create the session
// or to mount is reported as our one line with libfuse's reason in it, not
// as two lines.

/// The daemon's log.
let daemonLog = Logger(label: "slabfs") { StandardErrorLogHandler(label: $0) }

/// libfuse's messages, as libfuse words them (no "slabfs: " prefix).
let libfuseLogger = Logger(label: StandardErrorLogHandler.libfuseLabel) { StandardErrorLogHandler(label: $0) }

/// One line "slabfs: message" on stderr, at error level (always shown).
func logError(_ message: String) {
    daemonLog.error("\(message)")
}

/// Writes each message as one line on stderr. The level is the daemon's,
/// shared by every logger (swift-log allows a process-wide level), so that
/// -d reaches loggers made before it was parsed.
struct StandardErrorLogHandler: LogHandler {
    static let libfuseLabel = "libfuse"
    private static let level = Locked(Logger.Level.info)

    let label: String
    var metadata: Logger.Metadata = [:]

    var logLevel: Logger.Level {
        get { Self.level.withLock { $0 } }
        set { Self.setLevel(newValue) }
    }

    static func setLevel(_ level: Logger.Level) { Self.level.withLock { $0 = level } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = Self.line(label: label, message: event.message.description)
        line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
    }

    /// The line written for a message, newline included.
    static func line(label: String, message: String) -> String {
        label == libfuseLabel ? message + "\n" : "slabfs: \(message)\n"
    }
}

final class LibfuseLog: Sendable {
    static let shared = LibfuseLog()

    private let lastError = Locked<String?>(nil)

    /// -d: the daemon logs at debug level, libfuse's messages included;
    /// otherwise at info.
    func forwardAll(_ on: Bool) {
        StandardErrorLogHandler.setLevel(on ? .debug : .info)
    }

    /// The last error libfuse reported, and forget it.
    func takeLastError() -> String? { lastError.withLock { last in defer { last = nil }; return last } }

    fileprivate func record(level: fuse_log_level, message: String) {
        if level.rawValue <= FUSE_LOG_ERR.rawValue { lastError.withLock { $0 = message } }
        // Debug level whatever libfuse's own: its errors reach the user in
        // our one line, its notices and trace only with -d.
        libfuseLogger.debug("\(message)")
    }

    func install() {
        fuse_set_log_func(libfuseLog)
    }
}

private func libfuseLog(_ level: fuse_log_level, _ format: UnsafePointer<CChar>?, _ arguments: CVaListPointer?) {
    guard let format, let arguments else { return }
    var buffer = [CChar](repeating: 0, count: 1024)
    _ = vsnprintf(&buffer, buffer.count, format, arguments)
    var message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    while message.hasSuffix("\n") { message.removeLast() }
    LibfuseLog.shared.record(level: level, message: message)
}
