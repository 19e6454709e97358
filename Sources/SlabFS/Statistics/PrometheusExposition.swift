import DCache
import Slab

/// `slabfs stats --format prometheus`: `user.slabfs.stats` in the Prometheus
/// text exposition format (0.0.4), as a node_exporter textfile collector
/// reads it. Every sample carries the mount as `mountpoint`, so that files
/// written for several mounts do not collide; the slab caches are the
/// `cache` label. Counters end in `_total`; sizes are bytes and times
/// seconds, as Prometheus names them. The cache's counters map by name
/// (`negativeHits` is `slabfs_negative_hits_total`), so that one added to
/// DCacheCounter or SlabCounter shows without a change here.
public enum PrometheusExposition {
    public static func render(_ stats: MountStatistics, mountpoint: String) -> String {
        var out = Exposition(common: [("mountpoint", mountpoint)])
        let c = stats.cache

        out.gauge("slabfs_daemon_resident_bytes", "Resident set size of the slabfs daemon.", stats.daemonRSSBytes)
        out.gauge("slabfs_kernel_held_inodes", "Inodes the kernel holds for this mount (lookup count above zero).",
                  stats.kernelHeldInodes)
        out.gauge("slabfs_inodes", "Inodes in the cache.", c.inodes)
        out.gauge("slabfs_dentries", "Dentries in the cache.", c.dentries)
        out.gauge("slabfs_negative_dentries", "Negative dentries in the cache.", c.negativeDentries)
        out.gauge("slabfs_resident_pages", "Pages the dentry and inode slabs hold.", c.residentPages)
        out.gauge("slabfs_budget_bytes", "Memory budget of the dentry and inode slabs (cache_size).", c.budgetBytes)
        if let low = c.lowWatermarkPages {
            out.gauge("slabfs_low_watermark_pages", "Resident pages budget reclaim brings the cache down to.", low)
        }
        out.gauge("slabfs_utilization_ratio", "Live object bytes over slab bytes, dentry and inode slabs.",
                  c.utilization)
        out.gauge("slabfs_table_bytes", "Bytes of lookup tables (hash tables and node slots).", c.tableBytes)

        for (name, value) in c.counters.sorted(by: { $0.key < $1.key }) {
            // These two are gauges kept among the counters: exported above.
            if name == "negativeDentries" || name == "kernelHeld" { continue }
            out.counter("slabfs_\(snakeCase(name))_total", cacheCounterHelp[name] ?? "Cache counter \(name).", value)
        }

        for cache in c.caches {
            let label = [("cache", cache.name)]
            out.gauge("slabfs_slab_active_objects", "Objects handed out, per slab cache.", cache.activeObjects, label)
            out.gauge("slabfs_slab_objects", "Object slots in slabs that hold pages, per slab cache.",
                      cache.totalObjects, label)
            out.gauge("slabfs_slab_thread_cached_objects", "Free objects in per-thread caches, per slab cache.",
                      cache.threadCachedObjects, label)
            out.gauge("slabfs_slab_active_slabs", "Slabs with at least one object handed out, per slab cache.",
                      cache.activeSlabs, label)
            out.gauge("slabfs_slab_slabs", "Slabs holding pages, per slab cache.", cache.totalSlabs, label)
            out.gauge("slabfs_slab_full_slabs", "Full slabs, per slab cache.", cache.fullSlabs, label)
            out.gauge("slabfs_slab_partial_slabs", "Partly used slabs, per slab cache.", cache.partialSlabs, label)
            out.gauge("slabfs_slab_empty_slabs", "Empty slabs kept back, per slab cache.", cache.emptySlabs, label)
            out.gauge("slabfs_slab_pages", "Pages the slabs hold, per slab cache.", cache.pages, label)
            out.gauge("slabfs_slab_bytes", "Bytes the slabs hold, per slab cache.", cache.pages * systemPageSize, label)
            out.gauge("slabfs_slab_object_size_bytes", "Bytes between objects (slabinfo's objsize), per slab cache.",
                      cache.objectSize, label)
            out.gauge("slabfs_slab_objects_per_slab", "Objects a slab holds, per slab cache.", cache.objectsPerSlab, label)
            out.gauge("slabfs_slab_pages_per_slab", "Pages per slab, per slab cache.", cache.pagesPerSlab, label)
            out.gauge("slabfs_slab_utilization_ratio", "Live object bytes over slab bytes, per slab cache.",
                      cache.utilization, label)
            for (name, value) in cache.counters.sorted(by: { $0.key < $1.key }) {
                out.counter("slabfs_slab_\(snakeCase(name))_total",
                            (slabCounterHelp[name] ?? "Slab counter \(name)") + ", per slab cache.", value, label)
            }
        }

        if let requests = stats.requests {
            // `total` is the sum of the others: PromQL sums.
            for (name, value) in requests.sorted(by: { $0.key < $1.key }) where name != "total" {
                out.counter("slabfs_requests_total", "FUSE requests received, by request (one request thread only).",
                            value, [("request", name)])
            }
        }
        if let loop = stats.requestLoop {
            let help = "Requests the request loop found: queued, caught while polling, or after a sleep."
            out.counter("slabfs_request_loop_requests_total", help, loop.queued, [("found", "queued")])
            out.counter("slabfs_request_loop_requests_total", help, loop.caughtPolling, [("found", "caught_polling")])
            out.counter("slabfs_request_loop_requests_total", help, loop.afterSleep, [("found", "after_sleep")])
            out.counter("slabfs_request_loop_yields_total", "Times polling stopped because the thread was preempted.",
                        loop.yields)
            out.gauge("slabfs_request_loop_poll_window_seconds", "How long the request loop polls after a reply now.",
                      Double(loop.pollWindowMicroseconds) / 1_000_000)
        }
        if let coherence = stats.coherence {
            out.gauge("slabfs_coherence_info", "How changes behind the mount are seen (mode events or timeouts).", 1,
                      [("mode", coherence.mode)])
            out.gauge("slabfs_coherence_watched_filesystems", "Filesystems marked for events.", coherence.watched.count)
            out.counter("slabfs_coherence_events_total", "Backing filesystem events read.", coherence.events)
            out.counter("slabfs_coherence_own_events_total", "Events read that the daemon's own requests caused.",
                        coherence.ownEvents)
            out.counter("slabfs_coherence_names_invalidated_total", "Cached names dropped or made stale by events.",
                        coherence.namesInvalidated)
            out.counter("slabfs_coherence_nodes_invalidated_total", "Cached nodes dropped or made stale by events.",
                        coherence.nodesInvalidated)
            out.counter("slabfs_coherence_kernel_notifications_total",
                        "inval_entry and inval_inode notifications sent to the kernel.", coherence.kernelNotifications)
            out.counter("slabfs_coherence_overflows_total", "Times events were lost and everything cached made stale.",
                        coherence.overflows)
            out.counter("slabfs_coherence_epoch_bumps_total", "Times the kernel was told to drop every name at once.",
                        coherence.epochBumps)
            out.counter("slabfs_coherence_errors_total", "Errors of the event watcher.", coherence.errors)
            out.counter("slabfs_coherence_attributes_refreshed_total",
                        "Stale attributes of written files read again in idle time.", coherence.attributesRefreshed)
            out.counter("slabfs_coherence_refreshes_dropped_total",
                        "Stale attributes left to the next lookup: the refresher's queue was full.",
                        coherence.refreshesDropped)
        }
        if let passthrough = stats.passthrough {
            out.gauge("slabfs_passthrough_info", "Whether the kernel does regular files' I/O itself (mode on or off).",
                      1, [("mode", passthrough.mode)])
            out.gauge("slabfs_passthrough_open_inodes", "Inodes open through the kernel (FUSE passthrough) now.",
                      passthrough.openInodes)
            out.counter("slabfs_passthrough_registrations_total", "Backing files registered for passthrough.",
                        passthrough.registrations)
            if let idle = passthrough.idleRegistrations, let reuses = passthrough.reuses {
                out.gauge("slabfs_passthrough_idle_registrations",
                          "Registrations kept after their file's last close, for its next open.", idle)
                out.counter("slabfs_passthrough_reuses_total", "Opens that reused an idle registration.", reuses)
            }
        }
        // Settings as labels of one sample, as node_exporter's *_info
        // metrics carry versions and names.
        let settings = stats.configuration.sorted(by: { $0.key < $1.key }).map { (metricName($0.key), $0.value) }
        out.gauge("slabfs_configuration_info", "Settings in force, by their -o names.", 1, settings)
        return out.text
    }

    /// `negativeHits` -> `negative_hits`, `evictionsLRU` -> `evictions_lru`.
    static func snakeCase(_ name: String) -> String {
        let characters = Array(name)
        var result = ""
        for (index, character) in characters.enumerated() {
            if character.isUppercase, index > 0 {
                let previous = characters[index - 1]
                let next = index + 1 < characters.count ? characters[index + 1] : nil
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && next?.isLowercase == true) {
                    result.append("_")
                }
            }
            result += character.lowercased()
        }
        return metricName(result)
    }

    /// A metric or label name: [a-zA-Z_][a-zA-Z0-9_]*, anything else `_`.
    static func metricName(_ text: String) -> String {
        var result = String(text.unicodeScalars.map { scalar -> Character in
            let ascii = scalar.isASCII ? Character(scalar) : "_"
            return ascii.isLetter || ascii.isNumber || ascii == "_" ? ascii : "_"
        })
        if result.first?.isNumber ?? true { result = "_" + result }
        return result
    }

    /// A label value: backslash, double quote and newline escaped.
    static func labelValue(_ text: String) -> String { escaped(text, quote: true) }

    /// A HELP text: backslash and newline escaped.
    static func helpText(_ text: String) -> String { escaped(text, quote: false) }

    private static func escaped(_ text: String, quote: Bool) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\"" where quote: result += "\\\""
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Go's ParseFloat spellings, which Prometheus reads.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    private static let cacheCounterHelp: [String: String] = [
        "hits": "Lookups answered from the cache.",
        "misses": "Lookups that asked the backing directory.",
        "negativeHits": "Lookups answered by a negative dentry.",
        "inserts": "Dentries inserted.",
        "inodesCreated": "Inodes created.",
        "invalidations": "Cached entries invalidated.",
        "evictedInodes": "Inodes evicted.",
        "evictedDentries": "Dentries evicted.",
        "evictionsReclaim": "Objects evicted by page-targeted reclaim.",
        "evictionsLRU": "Objects evicted by the LRU baseline.",
        "evictionsCompaction": "Objects evicted by compaction with no room to move into.",
        "evictionsUnlinked": "Inodes freed when their last link went and nothing held them.",
        "evictionsNegativeLimit": "Negative dentries evicted by the negative-dentry cap.",
        "pagesReclaimed": "Pages freed by reclaim.",
        "reclaimPasses": "Reclaim passes.",
        "moves": "Objects moved by compaction.",
        "kernelDropsRequested": "Entries the kernel was asked to drop.",
        "pressureBudget": "Reclaims woken by the budget.",
        "pressurePSI": "Reclaims woken by memory stalls (PSI).",
        "pressureExplicit": "Reclaims asked for (user.slabfs.reclaim).",
    ]

    private static let slabCounterHelp: [String: String] = [
        "allocations": "Objects allocated",
        "frees": "Objects freed",
        "slabsAllocated": "Slabs given pages",
        "slabsReleased": "Slabs whose pages went back to the kernel",
        "reclaimPasses": "Reclaim passes",
        "pagesReclaimed": "Pages freed by reclaim",
        "objectsReclaimed": "Objects evicted by reclaim",
        "slabsScanned": "Slabs scanned by reclaim",
        "kicks": "Objects reclaim asked their owner to drop",
        "moves": "Objects moved",
        "kickFrees": "Objects freed after a kick",
        "refusals": "Objects that refused to move or go",
        "vacates": "Slabs compaction tried to empty",
        "vacatesSucceeded": "Slabs compaction emptied",
        "shrinks": "Shrinks (empty slabs given back)",
        "threadCacheDrains": "Per-thread cache drains",
    ]
}

/// Families in the order first named, each with its HELP and TYPE lines
/// once and its samples together, as the format requires.
private struct Exposition {
    typealias Labels = [(String, String)]

    private struct Family {
        var help: String
        var type: String
        var samples: [String] = []
    }

    let common: Labels
    private var order: [String] = []
    private var families: [String: Family] = [:]

    init(common: Labels) { self.common = common }

    mutating func gauge(_ name: String, _ help: String, _ value: Int, _ labels: Labels = []) {
        add(name, help, "gauge", String(value), labels)
    }

    mutating func gauge(_ name: String, _ help: String, _ value: Double, _ labels: Labels = []) {
        add(name, help, "gauge", PrometheusExposition.number(value), labels)
    }

    mutating func counter(_ name: String, _ help: String, _ value: Int, _ labels: Labels = []) {
        add(name, help, "counter", String(value), labels)
    }

    mutating func counter(_ name: String, _ help: String, _ value: UInt64, _ labels: Labels = []) {
        add(name, help, "counter", String(value), labels)
    }

    private mutating func add(_ name: String, _ help: String, _ type: String, _ value: String, _ labels: Labels) {
        let pairs = (common + labels).map { "\($0.0)=\"\(PrometheusExposition.labelValue($0.1))\"" }
        let sample = name + (pairs.isEmpty ? "" : "{" + pairs.joined(separator: ",") + "}") + " " + value
        if families[name] == nil {
            order.append(name)
            families[name] = Family(help: help, type: type)
        }
        families[name]!.samples.append(sample)
    }

    var text: String {
        var lines: [String] = []
        for name in order {
            let family = families[name]!
            lines.append("# HELP \(name) \(PrometheusExposition.helpText(family.help))")
            lines.append("# TYPE \(name) \(family.type)")
            lines += family.samples
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
