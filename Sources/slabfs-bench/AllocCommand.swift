import ArgumentParser
import Foundation
import Slab

struct AllocCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alloc",
        abstract: "Slab vs malloc, single vs bulk, and reclaim throughput."
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "MiB of unused objects to reclaim per pass.")
    var reclaimMib = 64

    /// Objects held at once in the pair benchmark.
    static let window = 16
    static let pairSizes = [64, 128, 256]
    static let bulkSizes = [8, 32, 128]
    static let bulkObjectSize = 128

    func validate() throws {
        guard reclaimMib >= 1 else { throw ValidationError("--reclaim-mib must be at least 1") }
    }

    func run() throws {
        var checksum: UInt64 = 0
        let pairs = try Self.pairSizes.map {
            try measurePairs(objectSize: $0, window: Self.window, options: options, checksum: &checksum)
        }
        let bulk = try Self.bulkSizes.map {
            try measureBulk(batch: $0, objectSize: Self.bulkObjectSize, options: options, checksum: &checksum)
        }
        let reclaim = try measureReclaim(bytes: reclaimMib << 20, options: options, checksum: &checksum)
        let report = AllocReport(
            slabOverMalloc: pairs.first { $0.objectSize == 128 }!.slabOverMalloc,
            bulk32OverSingle: bulk.first { $0.batch == 32 }!.bulkOverSingle,
            repetitions: options.repetitions, operations: options.operations, window: Self.window,
            pairs: pairs, bulk: bulk, reclaim: reclaim, checksum: checksum)
        if options.json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.table())
        }
    }
}

struct AllocReport: Codable {
    /// ns per pair, slab / malloc, 128 B, one thread.
    var slabOverMalloc: Double
    /// ns per object, batch of 32 / one at a time.
    var bulk32OverSingle: Double
    var repetitions: Int
    var operations: Int
    var window: Int
    var pairs: [PairFigure]
    var bulk: [BulkFigure]
    var reclaim: ReclaimFigure
    /// Printed so the optimizer cannot drop the measured work.
    var checksum: UInt64

    func table() -> String {
        var pairTable = TextTable("alloc+free pair, 1 thread", "slab ns", "malloc ns", "slab/malloc")
        for p in pairs {
            pairTable.add("\(p.objectSize) B", fixed(p.slabNs), fixed(p.mallocNs), fixed(p.slabOverMalloc, 2))
        }
        var bulkTable = TextTable("\(AllocCommand.bulkObjectSize) B, per object", "single ns", "bulk ns", "bulk/single")
        for b in bulk {
            bulkTable.add("batch \(b.batch)", fixed(b.singleNsPerObject), fixed(b.bulkNsPerObject),
                          fixed(b.bulkOverSingle, 2))
        }
        var reclaimTable = TextTable("reclaim, 128 B reclaimable, all unused", "")
        reclaimTable.add("allocated", "\(mebibytes(reclaim.bytesAllocated)) (\(reclaim.objects) objects)")
        reclaimTable.add("pages / slabs / objects freed",
                         "\(reclaim.pagesFreed) / \(reclaim.slabsFreed) / \(reclaim.objectsFreed)")
        reclaimTable.add("reclaim(pages: Int.max) time", fixed(reclaim.seconds * 1000, 2) + " ms")
        reclaimTable.add("throughput", fixed(reclaim.pagesPerSecond / 1e6, 2) + " M pages/s")
        reclaimTable.add("RSS before -> after",
                         "\(mebibytes(reclaim.rssBeforeBytes)) -> \(mebibytes(reclaim.rssAfterBytes))")
        return """
            slabfs-bench alloc: median of \(repetitions) repetitions, \(operations) operations each, \
            pair window \(window)

            \(pairTable.render())

            \(bulkTable.render())

            \(reclaimTable.render())

            slab_over_malloc = \(fixed(slabOverMalloc, 2)), bulk32_over_single = \(fixed(bulk32OverSingle, 2)) \
            (checksum \(String(checksum, radix: 16)))
            targets: slab_over_malloc <= 1.0 (aim 0.5), bulk32_over_single <= 0.6
            """
    }
}
