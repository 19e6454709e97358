import DCache
import Slab

/// What `user.slabfs.stats` holds: the cache's statistics, the daemon's
/// memory, and the configuration in force.
public struct MountStatistics: Codable, Sendable {
    public var cache: DCacheStatistics
    /// The daemon's resident set size, from /proc/self/statm.
    public var daemonRSSBytes: Int
    /// Inodes the kernel holds for this mount (lookup count above zero).
    public var kernelHeldInodes: Int
    /// Settings in force, by their `-o` names.
    public var configuration: [String: String]

    public init(cache: DCacheStatistics, daemonRSSBytes: Int, kernelHeldInodes: Int, configuration: [String: String]) {
        self.cache = cache
        self.daemonRSSBytes = daemonRSSBytes
        self.kernelHeldInodes = kernelHeldInodes
        self.configuration = configuration
    }
}
