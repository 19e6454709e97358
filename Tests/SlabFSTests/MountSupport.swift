import Foundation
import Glibc
@testable import SlabFS
import SystemPackage
import Testing

/// The built `slabfs` beside this test bundle (`swift build` and `swift
/// test` put it there), if any.
let mountTestBinary: String? = {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    let candidates = [directory, directory.deletingLastPathComponent()].map { $0.appendingPathComponent("slabfs").path }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// Whether this test binary (and so the `slabfs` built beside it) runs
/// under ThreadSanitizer. Then mounts use the single-threaded loop: with
/// libfuse's worker threads, TSan aborts at unmount (exit 66, a known false
/// positive, shared notes §6).
let underThreadSanitizer: Bool = dlsym(nil, "__tsan_init") != nil
/// Under TSan or ASan (the daemon is then built the same way): RSS does
/// not follow the slabs there.
let underSanitizer: Bool = underThreadSanitizer || dlsym(nil, "__asan_init") != nil

/// Whether mount tests can run here: the binary is built, /dev/fuse opens,
/// and we are root (the tests chown and switch users).
let canMount: Bool = mountTestBinary != nil && geteuid() == 0
    && FileManager.default.isWritableFile(atPath: "/dev/fuse")

/// A slabfs mounted in the foreground as a child process over a scratch
/// backing directory `/tmp/slabfs-mount-XXXXXX/source`, at `.../mnt`.
///
/// Always pair with `defer { mount.tearDown() }` (`withMount` does): it unmounts (fusermount3
/// -u, then -u -z), stops the daemon (SIGTERM, then SIGKILL) and removes the
/// scratch directory, even when the test failed half-way.
final class MountedSlabfs {
    let root: String
    var source: String { root + "/source" }
    var mountpoint: String { root + "/mnt" }
    let process = Process()
    private var tornDown = false

    /// Mounts with `arguments` after SOURCE MOUNTPOINT -f, with
    /// `environment` added to the daemon's; `launcher` (a program and its
    /// arguments) runs the daemon.
    init(_ arguments: [String] = [], environment: [String: String] = [:], launcher: [String] = []) throws {
        var template = Array("/tmp/slabfs-mount-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        root = String(cString: made)
        // Other users (the allow_other test) must reach the mountpoint.
        chmod(root, 0o755)
        try FileManager.default.createDirectory(atPath: root + "/source", withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: root + "/mnt", withIntermediateDirectories: false)
        let binary = try #require(mountTestBinary)
        process.executableURL = URL(fileURLWithPath: launcher.first ?? binary)
        process.arguments = (launcher.isEmpty ? [] : Array(launcher.dropFirst()) + [binary])
            + [source, mountpoint, "-f"] + (underThreadSanitizer ? ["-s"] : []) + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: root + "/daemon.log", contents: nil)
        process.standardError = FileHandle(forWritingAtPath: root + "/daemon.log")
        do {
            try process.run()
            try waitForMount()
        } catch {
            tearDown()
            throw error
        }
    }

    var pid: Int32 { process.processIdentifier }

    /// What the daemon wrote to stderr.
    var log: String { (try? String(contentsOfFile: root + "/daemon.log", encoding: .utf8)) ?? "" }

    /// Polls /proc/self/mountinfo until the mountpoint shows (10 s at most).
    private func waitForMount() throws {
        for _ in 0..<1000 {
            if isMounted { return }
            guard process.isRunning else { throw MountTestError("slabfs exited before mounting: \(log)") }
            usleep(10_000)
        }
        throw MountTestError("slabfs did not mount within 10 s: \(log)")
    }

    var isMounted: Bool { parseMountInfo(mountInfo()).contains(mountpoint) }

    /// The daemon's open descriptors.
    var descriptorCount: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// A path inside the mount / inside the backing directory.
    func mounted(_ name: String) -> String { mountpoint + "/" + name }
    func backing(_ name: String) -> String { source + "/" + name }

    /// Unmounts and waits for the daemon to exit; its exit status, or nil
    /// if it had to be killed.
    @discardableResult
    func unmount() -> Int32? {
        if isMounted { runProgram("/usr/bin/fusermount3", ["-u", mountpoint]) }
        if isMounted { runProgram("/usr/bin/fusermount3", ["-u", "-z", mountpoint]) }
        return waitForExit()
    }

    /// Waits up to 10 s for the daemon to exit, then kills it.
    func waitForExit() -> Int32? {
        for _ in 0..<1000 where process.isRunning { usleep(10_000) }
        guard process.isRunning else { return process.terminationStatus }
        kill(pid, SIGKILL)
        process.waitUntilExit()
        return nil
    }

    func tearDown() {
        guard !tornDown else { return }
        tornDown = true
        if process.isRunning {
            unmount()
            if process.isRunning { kill(pid, SIGTERM) }
            _ = waitForExit()
        }
        if isMounted { runProgram("/usr/bin/fusermount3", ["-u", "-z", mountpoint]) }
        // Under a sanitizer build the daemon is instrumented too: its
        // reports fail the test that mounted it.
        if log.contains("Sanitizer") { Issue.record("the daemon reported: \(log)") }
        // Never delete through a mount that is still there.
        if !isMounted { try? FileManager.default.removeItem(atPath: root) }
    }
}

struct MountTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private func mountInfo() -> String {
    (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
}

/// Runs a program to its end; its exit status and output.
@discardableResult
func runProgram(_ program: String, _ arguments: [String]) -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { return (-1, "\(error)") }
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

/// lstat(2) of a path, or the errno it failed with.
func fileStatus(_ path: String) -> Result<stat, Errno> {
    var result = stat()
    guard lstat(path, &result) == 0 else { return .failure(Errno(rawValue: errno)) }
    return .success(result)
}

func writeFile(_ path: String, _ text: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

func readFile(_ path: String) throws -> String {
    String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
}

/// The mount's `user.slabfs.stats`, decoded.
/// Polls `condition` for up to `seconds`; whether it came true.
func eventually(within seconds: Double = 1.0, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    repeat {
        if condition() { return true }
        usleep(5_000)
    } while Date() < deadline
    return condition()
}

func statistics(_ mount: MountedSlabfs) throws -> MountStatistics {
    let root = try FileDescriptor.open(mount.mountpoint, .readOnly, options: .directory)
    defer { try? root.close() }
    return try JSONDecoder().decode(MountStatistics.self, from: Data(try root.extendedAttribute("user.slabfs.stats")))
}

/// Runs `body` with an O_PATH descriptor of `path` (the attribute calls
/// fall back to its /proc path).
func withPath<R>(_ path: String, _ body: (FileDescriptor) throws(Errno) -> R) throws(Errno) -> R {
    let descriptor: FileDescriptor
    do {
        descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: .path)
    } catch {
        throw (error as? Errno) ?? .ioError
    }
    defer { try? descriptor.close() }
    return try body(descriptor)
}

/// Runs `body` with a slabfs mounted as `MountedSlabfs(arguments,
/// environment:launcher:)` mounts it, and tears the mount down after,
/// however `body` ends.
func withMount(_ arguments: [String] = [], environment: [String: String] = [:], launcher: [String] = [],
               _ body: (MountedSlabfs) throws -> Void) throws {
    let mount = try MountedSlabfs(arguments, environment: environment, launcher: launcher)
    defer { mount.tearDown() }
    try body(mount)
}

/// Makes the kernel FORGET what it holds of `mount`: a kernel cache limit
/// set while mounted, then lifted (drop_caches would do too, but for the
/// whole machine), waiting up to 10 s until it holds `heldAtMost` inodes.
/// Returns how many it still held.
func makeKernelForget(_ mount: MountedSlabfs, limit: Int, until heldAtMost: Int) throws -> Int {
    func setLimit(_ value: Int) throws {
        try withPath(mount.mountpoint) { (root) throws(Errno) in
            try root.setExtendedAttribute("user.slabfs.kernel_cache_limit", to: Array(String(value).utf8))
        }
    }
    try setLimit(limit)
    defer { try? setLimit(0) }
    var held = Int.max
    for _ in 0..<200 {
        held = try statistics(mount).kernelHeldInodes
        if held <= heldAtMost { break }
        usleep(50_000)
    }
    return held
}
