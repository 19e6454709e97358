#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import DCache
import Foundation
import SlabFS
import SystemPackage

/// `slabfs stats MOUNTPOINT`: a table like `slabtop --once`, the JSON as it
/// is, or the Prometheus text format.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Show a mount's slab caches and cache counters once.",
        discussion: """
            --format prometheus writes the Prometheus text exposition format; with \
            --output FILE.prom in node_exporter's textfile collector directory (run \
            from cron or a timer), node_exporter serves it.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, prometheus
    }

    @Argument(help: "The mountpoint of a slabfs mount.") var mountpoint: String
    @Option(help: "text: a table like slabtop; json: user.slabfs.stats as it is; prometheus: the Prometheus text format.")
    var format: Format?
    @Flag(help: "Print user.slabfs.stats as it is (JSON): as --format json.") var json = false
    @Option(help: ArgumentHelp("Write to FILE instead of standard output: to FILE.tmp first, then renamed, so that a reader never sees half a file.",
                               valueName: "file"),
            completion: .file())
    var output: String?

    func validate() throws {
        if json, let format, format != .json {
            throw ValidationError("--json and --format \(format.rawValue) contradict each other")
        }
        if let output, output.isEmpty { throw ValidationError("--output needs a file name") }
    }

    func run() throws {
        let client = try ControlClient(mountpoint: mountpoint)
        let text: String
        switch format ?? (json ? .json : .text) {
        case .json:
            text = String(decoding: try client.read("stats"), as: UTF8.self)
        case .text:
            text = StatisticsReport.render(try client.decode(MountStatistics.self, from: "stats"), mountpoint: mountpoint) + "\n"
        case .prometheus:
            let stats = try client.decode(MountStatistics.self, from: "stats")
            text = PrometheusExposition.render(stats, mountpoint: client.resolvedMountpoint)
        }
        if let output {
            try OutputFile.replace(output, with: text)
        } else {
            print(text, terminator: "")
        }
    }
}

/// A file replaced whole: written as NAME.tmp, then renamed over NAME, so
/// that a reader (node_exporter's textfile collector) sees the old contents
/// or the new, never part. Mode 0644 whatever the umask: it is read by
/// another user.
enum OutputFile {
    static func replace(_ path: String, with text: String) throws(ControlError) {
        let temporary = path + ".tmp"
        do {
            let file = try FileDescriptor.open(
                FilePath(temporary), .writeOnly, options: [.create, .truncate, .noFollow],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
            do {
                try file.closeAfter {
                    _ = try file.writeAll(Array(text.utf8))
                    guard fchmod(file.rawValue, 0o644) == 0 else { throw Errno(rawValue: errno) }
                }
            } catch {
                unlink(temporary)
                throw error
            }
        } catch {
            throw ControlError("cannot write '\(temporary)': \(error)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = Errno(rawValue: errno)
            unlink(temporary)
            throw ControlError("cannot rename '\(temporary)' to '\(path)': \(reason)")
        }
    }
}

/// `slabfs reclaim MOUNTPOINT --pages N`: one reclaim pass now.
struct ReclaimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reclaim", abstract: "Run a reclaim pass on a mount now (user.slabfs.reclaim).")

    @Argument(help: "The mountpoint of a slabfs mount.") var mountpoint: String
    @Option(help: "Pages to free.") var pages: Int
    @Flag(help: "Print the pass's report as JSON.") var json = false

    func validate() throws {
        guard pages > 0 else { throw ValidationError("--pages must be a positive number of pages") }
    }

    func run() throws {
        let client = try ControlClient(mountpoint: mountpoint)
        try client.write("reclaim", String(pages))
        if json {
            print(String(decoding: try client.read("reclaim"), as: UTF8.self), terminator: "")
            return
        }
        let r = try client.decode(ReclaimReport.self, from: "reclaim")
        print("reclaim (\(r.policy)): \(r.pagesFreed) of \(r.pagesWanted) pages freed, \(r.inodesEvicted) inodes and "
            + "\(r.dentriesEvicted) dentries evicted, \(r.moves) moves, \(r.kernelDropsRequested) kernel drops, "
            + "\(StatisticsReport.milliseconds(r.milliseconds))")
    }
}

/// `slabfs compact MOUNTPOINT`: shrink and compaction now.
struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact", abstract: "Compact a mount's slabs now (user.slabfs.compact).")

    @Argument(help: "The mountpoint of a slabfs mount.") var mountpoint: String
    @Flag(help: "Print the compaction's report as JSON.") var json = false

    func run() throws {
        let client = try ControlClient(mountpoint: mountpoint)
        try client.write("compact", "1")
        if json {
            print(String(decoding: try client.read("compact"), as: UTF8.self), terminator: "")
            return
        }
        let r = try client.decode(CompactionReport.self, from: "compact")
        print("compact: \(r.moves) objects moved, \(r.slabsEmptied) of \(r.slabsVacated) slabs vacated emptied, "
            + "\(r.pagesFreed) pages freed")
    }
}
