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
    /// How requests reached the one-thread loop; nil with several threads.
    public var requestLoop: RequestLoopStatistics?
    /// Events or timeouts, and what the event watcher did.
    public var coherence: CoherenceStatistics?
    /// Requests received by name, and `total` (one request thread only).
    public var requests: [String: Int]?
    /// Whether the kernel does regular files' I/O itself, and how much.
    public var passthrough: PassthroughStatistics?

    public init(cache: DCacheStatistics, daemonRSSBytes: Int, kernelHeldInodes: Int, configuration: [String: String],
                requestLoop: RequestLoopStatistics? = nil, coherence: CoherenceStatistics? = nil,
                requests: [String: Int]? = nil, passthrough: PassthroughStatistics? = nil) {
        self.cache = cache
        self.daemonRSSBytes = daemonRSSBytes
        self.kernelHeldInodes = kernelHeldInodes
        self.configuration = configuration
        self.requestLoop = requestLoop
        self.coherence = coherence
        self.requests = requests
        self.passthrough = passthrough
    }
}

/// The one-thread loop's requests by how they were found: whether polling
/// after replies pays (`caughtPolling` against `afterSleep`).
public struct RequestLoopStatistics: Codable, Sendable, Equatable {
    /// Already queued when the loop asked for the next request.
    public var queued: Int
    /// Arrived while the loop polled after a reply.
    public var caughtPolling: Int
    /// Woke the loop from its sleep.
    public var afterSleep: Int
    /// Times polling stopped for a while because the thread was preempted
    /// (another thread wanted the core).
    public var yields: Int
    /// How long the loop polls now, in microseconds (adapts up to poll_us).
    public var pollWindowMicroseconds: Int

    public init(queued: Int, caughtPolling: Int, afterSleep: Int, yields: Int, pollWindowMicroseconds: Int) {
        self.queued = queued
        self.caughtPolling = caughtPolling
        self.afterSleep = afterSleep
        self.yields = yields
        self.pollWindowMicroseconds = pollWindowMicroseconds
    }
}
