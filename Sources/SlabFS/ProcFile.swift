import SystemPackage

/// The whole text of a small kernel file (/proc/self/status,
/// /proc/self/mountinfo), read to its end: their sizes are not known
/// before reading. nil if it cannot be read.
func readProcFile(_ path: String) -> String? {
    guard let descriptor = try? FileDescriptor.open(FilePath(path), .readOnly, options: .closeOnExec) else { return nil }
    defer { try? descriptor.close() }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        guard let count = try? chunk.withUnsafeMutableBytes({ try descriptor.read(into: $0) }) else { return nil }
        if count == 0 { break }
        bytes += chunk[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}
