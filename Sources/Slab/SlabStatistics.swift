// Statistics per cache: /proc/slabinfo 2.1's columns, the list sizes, and the
// counters of SlabCounter, gathered in one place and printed by one function.

/// A snapshot of one cache.
public struct SlabStatistics: Sendable, Equatable, Codable {
    public var name: String
    /// Bytes between objects (slabinfo's objsize).
    public var objectSize: Int
    public var objectsPerSlab: Int
    public var pagesPerSlab: Int
    /// Objects allocated to callers (not counting those in thread caches).
    public var activeObjects: Int
    /// Slots in all slabs that hold pages.
    public var totalObjects: Int
    /// Slabs with at least one object handed out.
    public var activeSlabs: Int
    /// Slabs holding pages (empty ones kept back included).
    public var totalSlabs: Int
    public var fullSlabs: Int
    public var partialSlabs: Int
    public var emptySlabs: Int
    /// Free objects sitting in per-thread caches.
    public var threadCachedObjects: Int
    /// Live object bytes over slab bytes.
    public var utilization: Double
    public var counters: [String: UInt64]

    public subscript(counter: SlabCounter) -> UInt64 {
        counters["\(counter)"] ?? 0
    }

    public var pages: Int { totalSlabs * pagesPerSlab }
}

extension SlabCache {
    /// Counts as of now. Thread caches are read, not drained, so the figures
    /// are exact only when no other thread is allocating.
    public func statistics() -> SlabStatistics {
        let caches = threadCaches.withLock { $0 }
        var threadCached = 0
        var counters = [UInt64](repeating: 0, count: SlabCounter.allCases.count)
        for cache in caches {
            threadCached += cache.count
            counters[SlabCounter.allocations.rawValue] &+= cache.allocations
            counters[SlabCounter.frees.rawValue] &+= cache.frees
        }
        return lists.withLock { lists in
            for counter in SlabCounter.allCases { counters[counter.rawValue] &+= lists.counters[counter.rawValue] }
            let full = lists.fullCount
            let partial = lists.partialCount
            let empty = lists.emptyCount
            let isolated = lists.isolatedCount
            let totalSlabs = full + partial + empty + isolated
            let active = max(0, lists.objectsInUse - threadCached)
            let perSlab = Int(lists.objectsPerSlab)
            let slabBytes = totalSlabs * configuration.slabSize
            return SlabStatistics(
                name: configuration.name,
                objectSize: configuration.objectStride,
                objectsPerSlab: perSlab,
                pagesPerSlab: configuration.slabSize / systemPageSize,
                activeObjects: active,
                totalObjects: totalSlabs * perSlab,
                activeSlabs: full + partial + isolated,
                totalSlabs: totalSlabs,
                fullSlabs: full,
                partialSlabs: partial,
                emptySlabs: empty,
                threadCachedObjects: threadCached,
                utilization: slabBytes == 0 ? 0 : Double(active * configuration.objectStride) / Double(slabBytes),
                counters: Dictionary(uniqueKeysWithValues: SlabCounter.allCases.map { ("\($0)", counters[$0.rawValue]) })
            )
        }
    }
}

/// The /proc/slabinfo 2.1 text format, header lines exactly as the kernel
/// prints them. The tunables columns carry the thread cache's capacity and
/// refill batch (SLUB prints zeros there; SLAB printed its per-CPU array's).
public enum SlabInfo {
    public static let header = """
        slabinfo - version: 2.1
        # name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> \
        : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
        """

    public static func format(_ caches: [SlabCache]) -> String {
        format(caches.map { ($0.statistics(), $0.threadCacheCapacity) })
    }

    public static func format(_ rows: [(statistics: SlabStatistics, threadCacheCapacity: Int)]) -> String {
        var text = header + "\n"
        for (s, limit) in rows {
            // The kernel's "%-17s %6lu %6lu %6u %4u %4d : tunables %4u %4u %4u
            // : slabdata %6lu %6lu %6lu".
            text += pad(s.name, 17, left: true) + " " + pad(s.activeObjects, 6) + " " + pad(s.totalObjects, 6)
                + " " + pad(s.objectSize, 6) + " " + pad(s.objectsPerSlab, 4) + " " + pad(s.pagesPerSlab, 4)
                + " : tunables " + pad(limit, 4) + " " + pad(limit / 2, 4) + " " + pad(0, 4)
                + " : slabdata " + pad(s.activeSlabs, 6) + " " + pad(s.totalSlabs, 6) + " " + pad(0, 6) + "\n"
        }
        return text
    }

    static func pad(_ value: Int, _ width: Int) -> String { pad(String(value), width, left: false) }

    static func pad(_ text: String, _ width: Int, left: Bool) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? text + fill : fill + text
    }
}

extension SlabCache {
    /// Objects in use per slab, in slab order; nil for a slab whose pages
    /// were given back. For fragmentation maps (`slabfs top`).
    public func slabFills() -> [Int?] {
        lists.withLock { lists in
            (0..<lists.highWater).map { slab in
                lists.descriptors[Int(slab)].kind == .released ? nil : Int(lists.descriptors[Int(slab)].inUse)
            }
        }
    }
}
