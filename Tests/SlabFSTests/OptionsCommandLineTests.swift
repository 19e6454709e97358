import Foundation
import Testing
@testable import SlabFS

/// The argv layer: joined `-oOPTS`, and the built `slabfs` binary end to end
/// when it sits next to the test bundle (it does after `swift build`).
@Suite struct OptionsCommandLineTests {
    @Test("libfuse's joined -oOPTIONS is split into -o OPTIONS, except after -- or as an option's value")
    func joinedOptions() {
        #expect(MountArguments.separatingJoinedOptions(["src", "mnt", "-ocache_size=64M,ro", "-f"])
                == ["src", "mnt", "-o", "cache_size=64M,ro", "-f"])
        #expect(MountArguments.separatingJoinedOptions(["-o", "-oops", "--cache-size", "-ofoo", "x", "--", "-okeep"])
                == ["-o", "-oops", "--cache-size", "-ofoo", "x", "--", "-okeep"])
        #expect(MountArguments.separatingJoinedOptions(["-o", "ro", "--other", "-o=ro"]) == ["-o", "ro", "--other", "-o=ro"])
    }

    @Test("slabfs SOURCE MOUNTPOINT -o ... -f -d -s works as written, as mount.fuse3 runs it (--dry-run: checked, not mounted)",
          .enabled(if: slabfsBinary != nil && FileManager.default.isWritableFile(atPath: "/dev/fuse")))
    func binaryAcceptsMountFuse3Form() throws {
        let scratch = try OptionsScratch()
        let run = try runSlabfs([scratch.source, scratch.mountpoint, "-o", "rw,cache_size=32M,noatime,dev,suid",
                                 "-o", "eviction=lru", "-opage_size=8K",
                                 "-f", "-s", "--attr-timeout", "2.5", "--dry-run"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("33554432 bytes"))
        #expect(run.stdout.contains("eviction:           lru"))
        #expect(run.stdout.contains("page size:          8192 bytes"))
        #expect(run.stdout.contains("foreground, one request thread"))
        #expect(run.stdout.contains("attr timeout:       2.5 s"))
        #expect(run.stdout.contains("default_permissions,fsname="))
        let explicit = try runSlabfs(["mount", scratch.source, scratch.mountpoint, "--dry-run"])
        #expect(explicit.status == 0, "\(explicit.stderr)")
    }

    @Test("the binary reports a refusal in one stderr line and exits non-zero",
          .enabled(if: slabfsBinary != nil))
    func binaryRefusesInOneLine() throws {
        let scratch = try OptionsScratch()
        for arguments in [[scratch.source, scratch.mountpoint, "-o", "cache_sise=64M"],
                          [scratch.source],
                          [scratch.source, scratch.mountpoint, "--no-such-flag"],
                          [scratch.source, scratch.mountpoint, "--cache-size", "-5"],
                          [scratch.source, "/proc"]] {
            let run = try runSlabfs(arguments)
            #expect(run.status != 0)
            #expect(run.stdout.isEmpty)
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(arguments): \(run.stderr)")
            #expect(lines.first?.hasPrefix("slabfs: ") == true)
        }
    }
}

/// `slabfs` built beside this test bundle, if any.
private let slabfsBinary: String? = {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    let candidates = [directory, directory.deletingLastPathComponent()].map { $0.appendingPathComponent("slabfs").path }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

private func runSlabfs(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try #require(slabfsBinary))
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}
