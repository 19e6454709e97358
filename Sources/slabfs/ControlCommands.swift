import ArgumentParser
import DCache
import Foundation
import SlabFS

/// `slabfs stats MOUNTPOINT`: a table like `slabtop --once`.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Show a mount's slab caches and cache counters once.")

    @Argument(help: "The mountpoint of a slabfs mount.") var mountpoint: String
    @Flag(help: "Print user.slabfs.stats as it is (JSON).") var json = false

    func run() throws {
        let client = try ControlClient(mountpoint: mountpoint)
        if json {
            print(String(decoding: try client.read("stats"), as: UTF8.self), terminator: "")
            return
        }
        let stats = try client.decode(MountStatistics.self, from: "stats")
        print(StatisticsReport.render(stats, mountpoint: mountpoint))
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
            + "\(r.dentriesEvicted) dentries evicted, \(r.moves) moves, \(r.kicksRequested) kicks, "
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
