import Foundation
import SystemPackage
import Testing
@testable import SlabFS

/// A fresh `/tmp/slabfs-options-XXXXXX` with `source/` and `mnt/` in it,
/// removed when the value goes away. One per test, so tests can run in parallel.
final class OptionsScratch {
    let root: String
    var source: String { root + "/source" }
    var mountpoint: String { root + "/mnt" }

    init() throws {
        var template = Array("/tmp/slabfs-options-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        root = String(cString: made)
        try FileManager.default.createDirectory(atPath: root + "/source", withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: root + "/mnt", withIntermediateDirectories: false)
    }

    /// Creates a regular file and returns its path.
    func file(_ name: String) -> String {
        let path = root + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
        return path
    }

    func directory(_ name: String) throws -> String {
        let path = root + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The arguments `slabfs SOURCE MNT -o <each list>`.
    func arguments(_ mountOptions: String...) -> MountArguments {
        MountArguments(source: source, mountpoint: mountpoint, mountOptions: mountOptions)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }
}

extension MountProbe {
    /// The real filesystem, but /dev/fuse taken as present: unit tests must
    /// not depend on the FUSE module.
    static let forTests = MountProbe.system.withFuseDevice(nil)
}

/// Parses with the testing probe.
func parseMount(_ arguments: MountArguments, probe: MountProbe = .forTests) throws(MountOptionError) -> MountConfiguration {
    try MountConfiguration.parse(arguments, probe: probe)
}

/// The error `arguments` are refused with, checking that its message is one line.
func mountRefusal(_ arguments: MountArguments, probe: MountProbe = .forTests,
             sourceLocation: SourceLocation = #_sourceLocation) -> MountOptionError? {
    do {
        let configuration = try MountConfiguration.parse(arguments, probe: probe)
        Issue.record("expected a refusal, got \(configuration)", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(!error.message.contains("\n"), "error message spans lines: \(error.message)", sourceLocation: sourceLocation)
        #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
        return error
    }
}

/// Checks that `arguments` are refused for `problem`, with a message that
/// contains each of `fragments`.
func expectRefusal(_ arguments: MountArguments, _ problem: MountOptionError.Problem, mentioning fragments: String...,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    expectRefusal(arguments, problem, mentioningAll: fragments, sourceLocation: sourceLocation)
}

/// The same for `slabfs SOURCE MNT -o option` over a fresh `OptionsScratch`.
func expectRefusal(ofOption option: String, _ problem: MountOptionError.Problem, mentioning fragments: String...,
                   sourceLocation: SourceLocation = #_sourceLocation) throws {
    let scratch = try OptionsScratch()
    expectRefusal(scratch.arguments(option), problem, mentioningAll: fragments, sourceLocation: sourceLocation)
}

private func expectRefusal(_ arguments: MountArguments, _ problem: MountOptionError.Problem, mentioningAll fragments: [String],
                           sourceLocation: SourceLocation) {
    let error = mountRefusal(arguments, sourceLocation: sourceLocation)
    let context: Comment = "-o \(arguments.mountOptions): \(error?.message ?? "not refused")"
    #expect(error?.problem == problem, context, sourceLocation: sourceLocation)
    for fragment in fragments {
        #expect(error?.message.contains(fragment) == true, context, sourceLocation: sourceLocation)
    }
}
