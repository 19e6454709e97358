import DCache
import Slab

/// `slabfs stats` and `slabfs top`: the statistics as a person reads them,
/// in the manner of `slabtop --once`.
public enum StatisticsReport {
    public static func render(_ stats: MountStatistics, mountpoint: String) -> String {
        let caches = stats.cache.caches
        let active = caches.reduce(0) { $0 + $1.activeObjects }
        let total = caches.reduce(0) { $0 + $1.totalObjects }
        let activeSlabs = caches.reduce(0) { $0 + $1.activeSlabs }
        let totalSlabs = caches.reduce(0) { $0 + $1.totalSlabs }
        let activeBytes = caches.reduce(0) { $0 + $1.activeObjects * $1.objectSize }
        let totalBytes = caches.reduce(0) { $0 + $1.totalSlabs * $1.pagesPerSlab * systemPageSize }
        let c = stats.cache
        var lines = [
            " slabfs on \(mountpoint): eviction \(c.eviction)\(c.eviction == "page" ? (c.migrate ? ", migrate on" : ", migrate off") : ""), "
                + "budget \(bytes(c.budgetBytes)), daemon RSS \(bytes(stats.daemonRSSBytes))",
            " Active / Total Objects (% used)    : \(active) / \(total) (\(percent(active, total)))",
            " Active / Total Slabs (% used)      : \(activeSlabs) / \(totalSlabs) (\(percent(activeSlabs, totalSlabs)))",
            " Active / Total Size (% used)       : \(bytes(activeBytes)) / \(bytes(totalBytes)) (\(percent(activeBytes, totalBytes)))",
            " Inodes / Dentries / Negative       : \(c.inodes) / \(c.dentries) / \(c.negativeDentries)"
                + "   kernel holds \(stats.kernelHeldInodes) inodes",
            " Lookups: hits \(c[.hits]), misses \(c[.misses]), negative hits \(c[.negativeHits]) "
                + "(hit rate \(fixed(c.hitRate * 100, 1))%)",
            " Reclaim: \(c[.reclaimPasses]) passes, \(c[.pagesReclaimed]) pages, \(fixed(c.evictedPerPage, 1)) evicted/page; "
                + "moves \(c[.moves]), kernel drops \(c[.kernelDropsRequested])",
            " Evicted: reclaim \(c[.evictionsReclaim]), lru \(c[.evictionsLRU]), compaction \(c[.evictionsCompaction]), "
                + "negative cap \(c[.evictionsNegativeLimit])",
            " Pressure events: budget \(c[.pressureBudget]), psi \(c[.pressurePSI]), cgroup \(c[.pressureCgroup]), explicit \(c[.pressureExplicit])",
        ]
        if let loop = stats.requestLoop {
            lines.append(" Requests: queued \(loop.queued), caught polling \(loop.caughtPolling), after sleep \(loop.afterSleep), yields \(loop.yields); "
                + "polls up to \(loop.pollWindowMicroseconds) us now")
        }
        if let coherence = stats.coherence {
            lines.append(" Coherence: \(coherence.mode)\(coherence.reason.map { " (\($0))" } ?? ""); events \(coherence.events) "
                + "(own \(coherence.ownEvents)), invalidated \(coherence.namesInvalidated) names and \(coherence.nodesInvalidated) nodes, "
                + "kernel told \(coherence.kernelNotifications) times, overflows \(coherence.overflows); "
                + "attributes refreshed \(coherence.attributesRefreshed)")
        }
        if let passthrough = stats.passthrough {
            lines.append(" Passthrough: \(passthrough.mode)\(passthrough.reason.map { " (\($0))" } ?? ""); open inodes \(passthrough.openInodes), "
                + "registrations \(passthrough.registrations), idle \(passthrough.idleRegistrations ?? 0), reuses \(passthrough.reuses ?? 0)")
        }
        lines += [
            "",
            "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME",
        ]
        for cache in caches.sorted(by: { $0.totalSlabs > $1.totalSlabs }) {
            let size = cache.totalSlabs * cache.pagesPerSlab * systemPageSize
            lines.append(pad(cache.totalObjects, 6) + " " + pad(cache.activeObjects, 6) + " "
                + pad(percent(cache.activeObjects, cache.totalObjects, digits: 0), 4) + " "
                + pad(fixed(Double(cache.objectSize) / 1024, 2) + "K", 8) + " " + pad(cache.totalSlabs, 6) + " "
                + pad(cache.objectsPerSlab, 8) + " " + pad(String(size / 1024) + "K", 10) + " " + cache.name)
        }
        return lines.joined(separator: "\n")
    }

    /// A fragmentation map as rows of shaded cells: ' ' no page, '░' up to a
    /// third full, '▒' up to two thirds, '▓' less than full, '█' full; empty
    /// slabs kept back show as '·'.
    public static func renderMap(_ map: FragmentationMap, width: Int, rows: Int) -> [String] {
        let shades: [Character] = ["·", "░", "░", "░", "▒", "▒", "▒", "▓", "▓", "█"]
        var cells = map.cells.map { c -> Character in
            guard let level = c.wholeNumberValue else { return " " }
            return shades[level]
        }
        let capacity = max(1, width) * max(1, rows)
        if cells.count > capacity { cells = Array(cells.prefix(capacity - 1)) + ["…"] }
        var out: [String] = []
        var start = 0
        while start < cells.count {
            out.append(String(cells[start..<min(cells.count, start + width)]))
            start += width
        }
        return out
    }

    public static func milliseconds(_ value: Double) -> String { fixed(value, 1) + " ms" }

    static func percent(_ part: Int, _ whole: Int, digits: Int = 1) -> String {
        whole == 0 ? "0%" : fixed(Double(part) * 100 / Double(whole), digits) + "%"
    }

    static func bytes(_ value: Int) -> String {
        if value >= 1 << 30 { return fixed(Double(value) / Double(1 << 30), 2) + " GiB" }
        if value >= 1 << 20 { return fixed(Double(value) / Double(1 << 20), 1) + " MiB" }
        if value >= 1 << 10 { return fixed(Double(value) / Double(1 << 10), 1) + " KiB" }
        return "\(value) B"
    }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var text = digits == 0 ? String(Int(rounded)) : String(rounded)
        if digits > 0, let dot = text.firstIndex(of: ".") {
            let decimals = text.distance(from: dot, to: text.endIndex) - 1
            if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
        }
        return text
    }

    static func pad(_ value: Int, _ width: Int) -> String { pad(String(value), width) }
    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
