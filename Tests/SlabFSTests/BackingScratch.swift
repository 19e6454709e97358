import Foundation
import Glibc
@testable import SlabFS
import SystemPackage

/// A fresh backing directory under /tmp, removed when the test is done.
struct BackingScratch {
    let path: String
    let backing: BackingDirectory
    var root: FileDescriptor { backing.root }

    /// The names in the root, "." and ".." left out, sorted.
    func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    /// Creates `name` in `directory` (the root by default) holding `text`.
    @discardableResult
    func makeFile(
        _ name: BackingName, in directory: FileDescriptor? = nil, text: String = "",
        permissions: FilePermissions = [.ownerReadWrite]
    ) throws -> Stat {
        let parent = directory ?? root
        let fd = try parent.open(
            name, .writeOnly, options: [.create, .exclusiveCreate], permissions: permissions)
        defer { try? fd.close() }
        if !text.isEmpty { _ = try fd.writeAll(text.utf8) }
        return try fd.statDescriptor()
    }

    /// The whole content of `name` in the root, as text.
    func text(of name: BackingName) throws -> String {
        let fd = try root.open(name, .readOnly)
        defer { try? fd.close() }
        var bytes = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try fd.read(at: Int64(bytes.count), into: $0) }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Runs `body` with a fresh scratch backing directory and removes it after.
@discardableResult
func withBackingScratch<Result>(_ body: (BackingScratch) throws -> Result) throws -> Result {
    var template = Array("/tmp/slabfs-backing-XXXXXX".utf8CString)
    guard mkdtemp(&template) != nil else { throw Errno(rawValue: errno) }
    let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    // Open to everyone, so tests running as nobody can create entries.
    chmod(path, 0o777)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let backing = try BackingDirectory(path: FilePath(path))
    defer { backing.close() }
    return try body(BackingScratch(path: path, backing: backing))
}

/// The user and group tests switch to.
let nobodyCredentials = Credentials(user: UserID(rawValue: 65534), group: GroupID(rawValue: 65534))

/// Runs `body` on a new POSIX thread and joins it.
func runOnBackingTestThread(_ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    let rc = pthread_create(&thread, nil, { @Sendable raw in
        Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, box)
    precondition(rc == 0, "pthread_create failed: \(rc)")
    pthread_join(thread, nil)
}
