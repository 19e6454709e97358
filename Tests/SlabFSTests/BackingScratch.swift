import Foundation
import Glibc
@testable import SlabFS
import Synchronization
import SystemPackage

/// A fresh backing directory under /tmp, removed when the test is done.
struct BackingScratch {
    let path: String
    let backing: BackingDirectory
    var root: FileDescriptor { backing.root }

    /// What `open` and `openPath` opened: closed when `withBackingScratch` returns.
    final class Descriptors: Sendable {
        private let opened = Mutex<[FileDescriptor]>([])
        func append(_ fd: FileDescriptor) { opened.withLock { $0.append(fd) } }
        func closeAll() {
            let all = opened.withLock { opened in defer { opened = [] }; return opened }
            for fd in all.reversed() { try? fd.close() }
        }
    }
    let descriptors = Descriptors()

    /// Keeps `fd` open until the scratch goes, then closes it.
    func keep(_ fd: FileDescriptor) -> FileDescriptor {
        descriptors.append(fd)
        return fd
    }

    /// Opens `name` in the root as `FileDescriptor.open(_:_:options:permissions:)`
    /// does; the descriptor is closed when the scratch is.
    func open(
        _ name: BackingName, _ mode: FileDescriptor.AccessMode, options: FileDescriptor.OpenOptions = [],
        permissions: FilePermissions? = nil
    ) throws -> FileDescriptor {
        keep(try root.open(name, mode, options: options, permissions: permissions))
    }

    /// An O_PATH descriptor of `name` in the root (the link itself, for a
    /// symlink), closed when the scratch is.
    func openPath(_ name: BackingName) throws -> FileDescriptor {
        keep(try root.openPath(name))
    }

    /// Creates the directory `name` in the root, rwx for its owner.
    func makeDirectory(_ name: BackingName) throws {
        try root.makeDirectory(name, permissions: .ownerReadWriteExecute)
    }

    /// Creates the file `name` in the root (as `makeFile` does) and opens it
    /// with `mode`; the descriptor is closed when the scratch is.
    func makeFileAndOpen(_ name: BackingName, _ mode: FileDescriptor.AccessMode, text: String = "") throws -> FileDescriptor {
        try makeFile(name, text: text)
        return try open(name, mode)
    }

    /// Creates the file `name` in the root (as `makeFile` does) and returns
    /// an O_PATH descriptor of it, closed when the scratch is.
    func makeFileAndOpenPath(_ name: BackingName, text: String = "") throws -> FileDescriptor {
        try makeFile(name, text: text)
        return try openPath(name)
    }

    /// Creates the directory `name` in the root, rwx for its owner, and
    /// returns an O_PATH descriptor of it, closed when the scratch is.
    func makeDirectoryAndOpenPath(_ name: BackingName) throws -> FileDescriptor {
        try makeDirectory(name)
        return try openPath(name)
    }

    /// Creates the file "target" (as `makeFile` does) and "link", a symlink to it.
    @discardableResult
    func makeTargetAndLink(text: String = "", permissions: FilePermissions = [.ownerReadWrite]) throws -> Stat {
        let target = try makeFile("target", text: text, permissions: permissions)
        try root.makeSymbolicLink("link", target: "target")
        return target
    }

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
    let scratch = BackingScratch(path: path, backing: backing)
    defer { scratch.descriptors.closeAll() }
    return try body(scratch)
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
