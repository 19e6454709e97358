import CFuse
import Glibc
import Slab

// Messages: one line each on stderr ("slabfs: ..."), written with write(2)
// (the stderr global is not concurrency-safe in Swift 6). After
// daemonizing, stderr is /dev/null.
//
// libfuse's own messages come through `libfuseLog`: in debug mode they pass
// to stderr; otherwise the last error is kept, so that a failure to create
// the session or to mount is reported as our one line with libfuse's reason
// in it, not as two lines.

func logError(_ message: String) {
    var line = "slabfs: \(message)\n"
    line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

final class LibfuseLog: Sendable {
    static let shared = LibfuseLog()

    private struct State {
        var forwardAll = false
        var lastError: String?
    }

    private let state = Locked(State())

    /// Pass every libfuse message to stderr (-d).
    func forwardAll(_ on: Bool) { state.withLock { $0.forwardAll = on } }

    /// The last error libfuse reported, and forget it.
    func takeLastError() -> String? { state.withLock { state in defer { state.lastError = nil }; return state.lastError } }

    fileprivate func record(level: fuse_log_level, message: String) {
        let forward: Bool = state.withLock { state in
            if level.rawValue <= FUSE_LOG_ERR.rawValue { state.lastError = message }
            return state.forwardAll
        }
        if forward {
            var line = message + "\n"
            line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
        }
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
