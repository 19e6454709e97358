#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import SlabFS

// Everything runs from this nonisolated static function, not from main.swift
// top-level code or @main: Swift 6 treats both as main-actor code and traps
// (SIGILL) when FUSE threads later run closures created there.

/// The root command. Subcommands (stats, top, reclaim, compact) go in
/// `subcommands`; `mount` is the default, so `slabfs SOURCE MOUNTPOINT ...`
/// (what mount.fuse3 runs) works without naming it. The price: a relative
/// SOURCE spelled like a subcommand must be written `./stats`.
struct SlabfsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slabfs",
        abstract: "A FUSE passthrough filesystem whose dentry and inode cache lives on a reclaimable slab allocator.",
        usage: """
            slabfs SOURCE MOUNTPOINT [-o OPTIONS] [-f] [-d] [-s] [--cache-size SIZE] ...
            slabfs <subcommand> ...
            """,
        discussion: "Run 'slabfs mount --help' for the mount options, which also work in fstab as fuse.slabfs.",
        subcommands: [MountCommand.self, StatsCommand.self, TopCommand.self, ReclaimCommand.self, CompactCommand.self],
        defaultSubcommand: MountCommand.self
    )

    /// Parses the process's arguments, runs the command and exits. Errors are
    /// one line on stderr: "slabfs: <problem>".
    static func runFromCommandLine() -> Never {
        do {
            let words = MountArguments.separatingJoinedOptions(Array(CommandLine.arguments.dropFirst()))
            var command = try parseAsRoot(words)
            try command.run()
            terminate(0)
        } catch let error as MountOptionError {
            printError(error.message)
            terminate(error.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)  // --help: ArgumentParser prints it to stdout
            }
            printError(oneLine(message(for: error)))
            terminate(code.rawValue)
        }
    }

    /// ArgumentParser's messages may carry extra lines (usage, hints); keep
    /// the first, which names the problem, and point at --help.
    private static func oneLine(_ message: String) -> String {
        let first = message.split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        let trimmed = first.hasPrefix("Error: ") ? String(first.dropFirst("Error: ".count)) : first
        return "\(trimmed) (see slabfs --help)"
    }
}

/// Ends the process (ParsableCommand's own `exit(withError:)` hides libc's `exit`).
private func terminate(_ status: Int32) -> Never {
    exit(status)
}

/// Writes "slabfs: message" to stderr with write(2): the `stderr` global is
/// not concurrency-safe in Swift 6.
func printError(_ message: String) {
    var line = "slabfs: \(message)\n"
    line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}
