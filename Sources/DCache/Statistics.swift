import Slab

/// A snapshot of the cache for `user.slabfs.stats` and the benchmarks.
public struct DCacheStatistics: Sendable, Codable {
    public var counters: [String: Int]
    public var caches: [SlabStatistics]
    public var inodes: Int
    public var dentries: Int
    public var negativeDentries: Int
    public var kernelHeldInodes: Int
    public var residentPages: Int
    public var budgetBytes: Int
    /// Where budget reclaim stops: the low watermark, in pages (0 without
    /// a budget).
    /// (Optional, as the fields below: a daemon older than them omits them.)
    public var lowWatermarkPages: Int?
    public var eviction: String
    public var migrate: Bool
    /// Live object bytes over slab bytes, over the dentry and inode caches.
    public var utilization: Double
    /// Objects evicted per page reclaimed, over the cache's life.
    public var evictedPerPage: Double
    public var hitRate: Double
    /// Bytes of lookup-table memory (hash tables and node slots).
    public var tableBytes: Int
    /// What each pressure source (`psi`, `cgroup`) watches, or why it is off.
    public var pressureSources: [String: String]?

    public subscript(counter: DCacheCounter) -> Int { counters["\(counter)"] ?? 0 }
}

extension DirectoryCache {
    public func statistics() -> DCacheStatistics {
        let caches = slabCaches.map { $0.statistics() }
        var values: [String: Int] = [:]
        for counter in DCacheCounter.allCases { values["\(counter)"] = counters.value(counter) }
        let objectCaches = caches.prefix(2)
        let liveBytes = objectCaches.reduce(0) { $0 + $1.activeObjects * $1.objectSize }
        let slabBytes = objectCaches.reduce(0) { $0 + $1.totalSlabs * $1.pagesPerSlab * systemPageSize }
        let evicted = counters.value(.evictedInodes) + counters.value(.evictedDentries)
        let pages = counters.value(.pagesReclaimed)
        let lookups = counters.value(.hits) + counters.value(.misses) + counters.value(.negativeHits)
        let (eviction, migrate, budget) = settings.withLock { ($0.eviction, $0.migrate, $0.budgetBytes) }
        return DCacheStatistics(
            counters: values,
            caches: caches,
            inodes: caches[1].activeObjects,
            dentries: caches[0].activeObjects,
            negativeDentries: counters.value(.negativeDentries),
            kernelHeldInodes: counters.value(.kernelHeld),
            residentPages: residentPages,
            budgetBytes: budget,
            lowWatermarkPages: lowWatermarkPages(budget: budget),
            eviction: eviction.rawValue,
            migrate: migrate,
            utilization: slabBytes == 0 ? 0 : Double(liveBytes) / Double(slabBytes),
            evictedPerPage: pages == 0 ? 0 : Double(evicted) / Double(pages),
            hitRate: lookups == 0 ? 0 : Double(counters.value(.hits) + counters.value(.negativeHits)) / Double(lookups),
            tableBytes: identityTable.bytes + dentryTable.bytes + nodeTable.issuedCount * MemoryLayout<NodeTable.RawSlot>.stride,
            pressureSources: pressure?.sources ?? ["psi": "off: --psi-threshold-us 0", "cgroup": "off: --psi-threshold-us 0"]
        )
    }
}
