import ArgumentParser
import DCache
import LoadGenerators
import Foundation
import Glibc
import Slab

struct ReclaimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reclaim",
        abstract: "LRU vs page-targeted reclaim vs page reclaim with migration, on one workload.",
        discussion: """
            Each policy gets the same tree, the same Zipf lookups, the same pinned \
            inodes (held by the 'kernel' or open), then the same cut of its budget, \
            then the same lookups again with misses re-inserted.
            """
    )

    @Option(help: "Entries in the tree (directories of about 100 names).")
    var entries = 1_000_000

    @Option(help: "Lookups before the cut, and again after it.")
    var lookups = 1_000_000

    @Option(help: "Zipf exponent of the lookups.")
    var zipf = 1.0

    @Option(help: "Fraction of files the 'kernel' holds (lookup count above zero).")
    var kernelHeld = 0.05

    @Option(help: "Fraction of files held open.")
    var open = 0.01

    @Option(help: "Budget after the cut, as a fraction of the pages in use.")
    var cut = 0.5

    @Option(help: "Seed of the tree and the lookups.")
    var seed: UInt64 = 42

    @Option(help: "Policies to run, comma-separated: lru, page, page_migrate.")
    var policies = "lru,page,page_migrate"

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func validate() throws {
        guard entries >= 1_000 else { throw ValidationError("--entries must be at least 1000") }
        guard lookups >= 0 else { throw ValidationError("--lookups must not be negative") }
        guard zipf > 0 else { throw ValidationError("--zipf must be positive") }
        guard (0..<1).contains(kernelHeld), (0..<1).contains(open), kernelHeld + open < 1 else {
            throw ValidationError("--kernel-held and --open are fractions that sum below 1")
        }
        guard cut > 0, cut < 1 else { throw ValidationError("--cut must be between 0 and 1") }
        for policy in policyList where !["lru", "page", "page_migrate"].contains(policy) {
            throw ValidationError("unknown policy '\(policy)': use lru, page or page_migrate")
        }
    }

    var policyList: [String] { policies.split(separator: ",").map(String.init) }

    func run() throws {
        let tree = SyntheticTree(entries: entries, seed: seed)
        let sampler = ZipfSampler(count: tree.entries.count, exponent: zipf, seed: seed)
        var results: [String: PolicyResult] = [:]
        for policy in policyList {
            results[policy] = try runPolicy(policy, tree: tree, sampler: sampler)
            progress("slabfs-bench reclaim: \(policy) done")
        }
        let report = ReclaimBenchReport(entries: tree.entries.count, lookups: lookups, zipf: zipf,
                                        kernelHeld: kernelHeld, open: open, cut: cut, seed: seed, results: results)
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.table(order: policyList))
        }
    }

    private func runPolicy(_ policy: String, tree: SyntheticTree, sampler: ZipfSampler) throws -> PolicyResult {
        var configuration = DirectoryCache.Configuration()
        configuration.eviction = policy == "lru" ? .lru : .page
        configuration.migrate = policy == "page_migrate"
        configuration.reservedBytes = 8 << 30
        configuration.negativeLimit = 0
        let cache = try DirectoryCache(configuration)
        let root = try cache.insertRoot(identity: BackingIdentity(device: 0x801, inode: 2),
                                        handle: TreeWalker.handle(-98),
                                        attributes: TreeWalker.attributes(0, directory: true))
        root.release()
        var walker = TreeWalker(tree: tree, cache: cache)
        var random = SplitMix64(state: seed ^ 0xC0FFEE)

        // The tree, then the lookups that make some of it hot.
        for index in tree.entries.indices { walker.walk(to: index).release() }
        for _ in 0..<lookups { walker.walk(to: sampler.sample(&random)).release() }

        // Pins: the same files for every policy (their own generator).
        var pinRandom = SplitMix64(state: seed ^ 0xF00D)
        let files = tree.entries.indices.filter { !tree.entries[$0].isDirectory }
        for index in files {
            let draw = Double(pinRandom.next() >> 11) / Double(1 << 53)
            guard draw < kernelHeld + open else { continue }
            let inode = walker.walk(to: index)
            if draw < kernelHeld { cache.kernelLookup(inode) } else { cache.openHandle(inode) }
            inode.release()
        }

        // The cut.
        let before = cache.statistics()
        let rssBefore = ProcessMemory.residentBytes()
        let evictedBefore = before[.evictedInodes] + before[.evictedDentries]
        let start = monotonicNanoseconds()
        cache.budgetBytes = Int(Double(before.residentPages) * cut) * systemPageSize
        cache.waitForReclaim()
        let reclaimNanoseconds = monotonicNanoseconds() - start
        let afterCut = cache.statistics()
        let rssAfter = ProcessMemory.residentBytes()

        // The same workload again under the smaller budget.
        walker.resetCounts()
        for _ in 0..<lookups { walker.walk(to: sampler.sample(&random)).release() }
        cache.waitForReclaim()
        let end = cache.statistics()

        let evicted = afterCut[.evictedInodes] + afterCut[.evictedDentries] - evictedBefore
        let pagesFreed = max(0, before.residentPages - afterCut.residentPages)
        let objects = end.caches.prefix(2).reduce(0) { $0 + $1.activeObjects }
        let slabs = end.caches.prefix(2).reduce(0) { $0 + $1.totalSlabs }
        return PolicyResult(
            evicted: evicted, pagesFreed: pagesFreed,
            evictedPerPage: pagesFreed == 0 ? Double(evicted) : Double(evicted) / Double(pagesFreed),
            objectsPerSlab: slabs == 0 ? 0 : Double(objects) / Double(slabs),
            utilizationBefore: before.utilization, utilizationAfter: end.utilization,
            hitRateAfter: walker.lookups == 0 ? 0 : Double(walker.hits) / Double(walker.lookups),
            reclaimMs: Double(reclaimNanoseconds) / 1e6,
            pagesBefore: before.residentPages, pagesAfterCut: afterCut.residentPages, pagesAtEnd: end.residentPages,
            budgetPages: Int(Double(before.residentPages) * cut),
            rssBefore: rssBefore, rssAfter: rssAfter,
            moves: end[.moves], kernelHeld: end.kernelHeldInodes,
            evictedDuringLookups: end[.evictedInodes] + end[.evictedDentries] - evicted - evictedBefore)
    }
}

struct PolicyResult: Codable {
    var evicted: Int
    var pagesFreed: Int
    var evictedPerPage: Double
    var objectsPerSlab: Double
    var utilizationBefore: Double
    var utilizationAfter: Double
    var hitRateAfter: Double
    var reclaimMs: Double
    var pagesBefore: Int
    var pagesAfterCut: Int
    var pagesAtEnd: Int
    var budgetPages: Int
    var rssBefore: Int
    var rssAfter: Int
    var moves: Int
    var kernelHeld: Int
    var evictedDuringLookups: Int

    /// RSS given back over the bytes of the pages freed.
    var rssDropOverFreed: Double {
        pagesFreed == 0 ? 0 : Double(rssBefore - rssAfter) / Double(pagesFreed * systemPageSize)
    }
}

struct ReclaimBenchReport: Encodable {
    var entries: Int
    var lookups: Int
    var zipf: Double
    var kernelHeld: Double
    var open: Double
    var cut: Double
    var seed: UInt64
    var results: [String: PolicyResult]

    enum CodingKeys: String, CodingKey {
        case workload, lru, page, pageMigrate, lruOverPageMigrateEvictedPerPage
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(["entries": Double(entries), "lookups": Double(lookups), "zipf": zipf,
                              "kernel_held": kernelHeld, "open": open, "cut": cut, "seed": Double(seed)],
                             forKey: .workload)
        try container.encodeIfPresent(results["lru"], forKey: .lru)
        try container.encodeIfPresent(results["page"], forKey: .page)
        try container.encodeIfPresent(results["page_migrate"], forKey: .pageMigrate)
        try container.encodeIfPresent(ratio, forKey: .lruOverPageMigrateEvictedPerPage)
    }

    var ratio: Double? {
        guard let lru = results["lru"], let best = results["page_migrate"], best.evictedPerPage > 0 else { return nil }
        return lru.evictedPerPage / best.evictedPerPage
    }

    func table(order: [String]) -> String {
        var table = TextTable("policy", "evicted", "pages freed", "evicted/page", "objs/slab", "util before",
                              "util after", "hit rate after", "reclaim ms", "RSS before", "RSS after", "moves")
        for policy in order {
            guard let r = results[policy] else { continue }
            table.add(policy, "\(r.evicted)", "\(r.pagesFreed) of \(r.pagesBefore - r.budgetPages)",
                      fixed(r.evictedPerPage, 1), fixed(r.objectsPerSlab, 1), fixed(r.utilizationBefore, 3),
                      fixed(r.utilizationAfter, 3), fixed(r.hitRateAfter, 3), fixed(r.reclaimMs, 0),
                      mebibytes(r.rssBefore), mebibytes(r.rssAfter), "\(r.moves)")
        }
        var lines = [
            "slabfs-bench reclaim: \(entries) entries, \(lookups) Zipf(\(zipf)) lookups before and after, "
                + "\(Int(kernelHeld * 100))% of files held by the kernel, \(Int(open * 100))% open, "
                + "budget cut to \(Int(cut * 100))% of the pages in use (seed \(seed))",
            "",
            table.render(),
            "",
        ]
        if let ratio { lines.append("lru evicted/page over page_migrate evicted/page: \(fixed(ratio, 2)) (target >= 4)") }
        if let best = results["page_migrate"] {
            lines.append("page_migrate utilization after: \(fixed(best.utilizationAfter, 3)) (target >= 0.95); "
                + "RSS fell by \(fixed(best.rssDropOverFreed * 100, 0))% of the bytes freed (target >= 90%)")
            if let lru = results["lru"] {
                lines.append("hit rate after: page_migrate \(fixed(best.hitRateAfter, 3)), lru \(fixed(lru.hitRateAfter, 3)) "
                    + "(target: page_migrate at least lru's)")
            }
        }
        lines.append("evicted and pages freed are for the cut; 'pages freed' shows how much of the cut was met.")
        return lines.joined(separator: "\n")
    }
}

/// Progress goes to stderr, so stdout stays one table or one JSON object.
func progress(_ line: String) {
    (line + "\n").withCString { _ = Glibc.write(2, $0, strlen($0)) }
}
