import Foundation
import Testing
@testable import SlabFS

/// `slabfs stats --format prometheus`: the text format's rules (HELP and
/// TYPE once per family, samples together, escaping, number spellings) and
/// where each statistic goes. mount-tests/metrics.py parses a live mount's
/// with prometheus_client.
@Suite struct PrometheusExpositionTests {
    static let json = """
        {"cache": {"budgetBytes": 67108864, "counters": {"hits": 7, "misses": 50, "evictionsLRU": 3,
          "negativeDentries": 2, "kernelHeld": 50, "pressurePSI": 1},
          "caches": [{"name": "slabfs_dentry", "objectSize": 48, "objectsPerSlab": 85, "pagesPerSlab": 1,
            "activeObjects": 50, "totalObjects": 85, "activeSlabs": 1, "totalSlabs": 1, "fullSlabs": 0,
            "partialSlabs": 1, "emptySlabs": 0, "threadCachedObjects": 14, "utilization": 0.5859375,
            "counters": {"allocations": 50, "slabsAllocated": 1}},
           {"name": "slabfs_inode", "objectSize": 96, "objectsPerSlab": 42, "pagesPerSlab": 2,
            "activeObjects": 51, "totalObjects": 84, "activeSlabs": 2, "totalSlabs": 2, "fullSlabs": 1,
            "partialSlabs": 1, "emptySlabs": 0, "threadCachedObjects": 13, "utilization": 0.59765625,
            "counters": {"allocations": 51, "slabsAllocated": 2}}],
          "inodes": 51, "dentries": 50, "negativeDentries": 2, "kernelHeldInodes": 50, "residentPages": 3,
          "eviction": "page", "migrate": true, "utilization": 0.59375, "evictedPerPage": 0, "hitRate": 0.12,
          "tableBytes": 201112},
         "daemonRSSBytes": 13856768, "kernelHeldInodes": 50,
         "configuration": {"cache_size": "67108864", "eviction": "page"},
         "requestLoop": {"queued": 339, "caughtPolling": 4, "afterSleep": 126, "yields": 5,
          "pollWindowMicroseconds": 50},
         "requests": {"lookup": 50, "getattr": 102, "total": 152}}
        """

    static func rendered(mountpoint: String = "/mnt/data") throws -> String {
        let stats = try JSONDecoder().decode(MountStatistics.self, from: Data(json.utf8))
        return PrometheusExposition.render(stats, mountpoint: mountpoint)
    }

    @Test("every family has one HELP and one TYPE line, then its samples, together; the text ends with a newline")
    func form() throws {
        let text = try Self.rendered()
        #expect(text.hasSuffix("\n"))
        var declared: [String] = []
        var current = ""
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# HELP ") {
                current = String(line.dropFirst(7).prefix { $0 != " " })
                #expect(!declared.contains(current), "family \(current) declared twice")
                declared.append(current)
            } else if line.hasPrefix("# TYPE ") {
                let words = line.split(separator: " ")
                #expect(words.count == 4 && String(words[2]) == current)
                #expect(words[3] == "counter" || words[3] == "gauge")
                if words[3] == "counter" { #expect(current.hasSuffix("_total")) }
            } else {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                #expect(name == current, "sample \(name) outside its family \(current)")
                #expect(line.contains("{mountpoint=\"/mnt/data\""))
            }
        }
        #expect(declared.count > 30)
    }

    @Test("gauges for objects, slabs, pages, bytes and utilization per cache label; counters as _total")
    func samples() throws {
        let text = try Self.rendered()
        let lines = Set(text.split(separator: "\n").map(String.init))
        let page = Int(getpagesize())
        for expected in [
            "slabfs_inodes{mountpoint=\"/mnt/data\"} 51",
            "slabfs_kernel_held_inodes{mountpoint=\"/mnt/data\"} 50",
            "slabfs_utilization_ratio{mountpoint=\"/mnt/data\"} 0.59375",
            "slabfs_daemon_resident_bytes{mountpoint=\"/mnt/data\"} 13856768",
            "slabfs_hits_total{mountpoint=\"/mnt/data\"} 7",
            "slabfs_evictions_lru_total{mountpoint=\"/mnt/data\"} 3",
            "slabfs_pressure_psi_total{mountpoint=\"/mnt/data\"} 1",
            "slabfs_slab_objects{mountpoint=\"/mnt/data\",cache=\"slabfs_dentry\"} 85",
            "slabfs_slab_active_objects{mountpoint=\"/mnt/data\",cache=\"slabfs_inode\"} 51",
            "slabfs_slab_slabs{mountpoint=\"/mnt/data\",cache=\"slabfs_inode\"} 2",
            "slabfs_slab_pages{mountpoint=\"/mnt/data\",cache=\"slabfs_inode\"} 4",
            "slabfs_slab_bytes{mountpoint=\"/mnt/data\",cache=\"slabfs_inode\"} \(4 * page)",
            "slabfs_slab_utilization_ratio{mountpoint=\"/mnt/data\",cache=\"slabfs_dentry\"} 0.5859375",
            "slabfs_slab_slabs_allocated_total{mountpoint=\"/mnt/data\",cache=\"slabfs_inode\"} 2",
            "slabfs_requests_total{mountpoint=\"/mnt/data\",request=\"getattr\"} 102",
            "slabfs_request_loop_requests_total{mountpoint=\"/mnt/data\",found=\"caught_polling\"} 4",
            "slabfs_request_loop_poll_window_seconds{mountpoint=\"/mnt/data\"} 5e-05",
            "slabfs_configuration_info{mountpoint=\"/mnt/data\",cache_size=\"67108864\",eviction=\"page\"} 1",
        ] {
            #expect(lines.contains(expected), "missing: \(expected)")
        }
        // Gauges kept among the cache's counters are not counters; `total`
        // is not a request.
        #expect(!text.contains("slabfs_kernel_held_total"))
        #expect(!text.contains("slabfs_negative_dentries_total"))
        #expect(!text.contains("request=\"total\""))
    }

    @Test("label values escape backslash, double quote and newline")
    func escaping() throws {
        let text = try Self.rendered(mountpoint: "/mnt/a \"b\"\\c\nd")
        #expect(text.contains("slabfs_inodes{mountpoint=\"/mnt/a \\\"b\\\"\\\\c\\nd\"} 51\n"))
        #expect(PrometheusExposition.helpText("a\\b\nc \"d\"") == "a\\\\b\\nc \"d\"")
    }

    @Test("names: camel case to snake case, acronyms kept together; anything else becomes _")
    func names() {
        #expect(PrometheusExposition.snakeCase("negativeHits") == "negative_hits")
        #expect(PrometheusExposition.snakeCase("evictionsLRU") == "evictions_lru")
        #expect(PrometheusExposition.snakeCase("pressurePSI") == "pressure_psi")
        #expect(PrometheusExposition.snakeCase("LRUEvictions") == "lru_evictions")
        #expect(PrometheusExposition.snakeCase("hits") == "hits")
        #expect(PrometheusExposition.metricName("a-b.c") == "a_b_c")
        #expect(PrometheusExposition.metricName("9lives") == "_9lives")
    }

    @Test("numbers: whole numbers without a point, NaN and infinities as Prometheus spells them")
    func numbers() {
        #expect(PrometheusExposition.number(3) == "3")
        #expect(PrometheusExposition.number(0.25) == "0.25")
        #expect(PrometheusExposition.number(.nan) == "NaN")
        #expect(PrometheusExposition.number(.infinity) == "+Inf")
        #expect(PrometheusExposition.number(-.infinity) == "-Inf")
    }
}
