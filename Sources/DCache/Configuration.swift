import Glibc
import Slab

extension DirectoryCache {
    /// How the cache is built and how it behaves under pressure.
    public struct Configuration: Sendable {
        public var eviction: EvictionPolicy = .page
        /// With the page policy: compact after reclaim by moving objects.
        public var migrate = true
        /// Memory budget for all slab pages, in bytes; 0 means no budget.
        public var budgetBytes = 0
        /// Reclaim starts above high * budget and goes down to low * budget.
        public var highWatermark = 1.0
        public var lowWatermark = 0.85
        /// Negative dentries kept at most; the oldest go first.
        public var negativeLimit = 65_536
        /// Unused objects reclaim frees per slab that has objects in use.
        public var circulation = 2
        /// Slab size in bytes (a power-of-two multiple of the page size).
        public var slabSize = systemPageSize
        /// Address space reserved per object cache.
        public var reservedBytes = 16 << 30
        /// PSI 'some' stall per 1 s window that triggers reclaim, in
        /// microseconds; 0 turns the PSI trigger off.
        public var psiThresholdMicroseconds = 0
        /// Fraction of the resident pages a PSI event reclaims.
        public var psiReclaimFraction = 0.25
        /// Kernel drops requested when a reclaim pass falls short of its target.
        public var kernelDropsPerPass = 256

        public init() {}

        func validate() throws(DCacheError) {
            guard budgetBytes >= 0 else { throw .invalidConfiguration("budget \(budgetBytes) is negative") }
            guard lowWatermark > 0, lowWatermark <= highWatermark, highWatermark <= 1 else {
                throw .invalidConfiguration("watermarks must satisfy 0 < low <= high <= 1")
            }
            guard negativeLimit >= 0 else { throw .invalidConfiguration("negative limit is negative") }
            guard circulation >= 0 else { throw .invalidConfiguration("circulation is negative") }
            guard psiThresholdMicroseconds >= 0, psiThresholdMicroseconds < 1_000_000 else {
                throw .invalidConfiguration("PSI threshold must be below 1 s")
            }
            guard psiReclaimFraction > 0, psiReclaimFraction <= 1 else {
                throw .invalidConfiguration("PSI reclaim fraction must be in (0, 1]")
            }
        }
    }

    /// The settings that may change while mounted.
    struct Settings {
        var eviction: EvictionPolicy
        var migrate: Bool
        var budgetBytes: Int
        var negativeLimit: Int
        var kernelDropsPerPass: Int
        var kernelDropHandler: (@Sendable ([KernelDropRequest]) -> Void)?
        var lastReclaim: ReclaimReport?

        init(_ configuration: Configuration) {
            eviction = configuration.eviction
            migrate = configuration.migrate
            budgetBytes = configuration.budgetBytes
            negativeLimit = configuration.negativeLimit
            kernelDropsPerPass = configuration.kernelDropsPerPass
        }
    }

    public var eviction: EvictionPolicy {
        get { settings.withLock { $0.eviction } }
        set {
            let switchingToLRU = settings.withLock { settings in
                defer { settings.eviction = newValue }
                return settings.eviction != .lru && newValue == .lru
            }
            policyWord.store(newValue == .lru ? 1 : 0, ordering: .relaxed)
            if switchingToLRU { enqueueEverythingOnLRU() }
        }
    }

    /// Objects made under the page policy are on no LRU: queue them all (in
    /// table order, so their age is lost) or the LRU could evict nothing.
    private func enqueueEverythingOnLRU() {
        dentryTable.forEachStripe { stripe in
            stripe.forEach { raw in
                let dentry = DentryObject(raw)
                guard dentry.flags & DentryObject.onLRU == 0, dentry.reference.count != 0 else { return }
                dentry.setFlags(DentryObject.onLRU)
                let entry = LRUEntry(object: raw, key: dentry.parent.rawValue, hash: dentry.hash)
                dentryLRU.withLock { $0.append(entry) }
            }
        }
        // Node stripes come before identity stripes: gather, then visit.
        var inodes: [(UnsafeMutableRawPointer, NodeID)] = []
        identityTable.forEachStripe { stripe in
            stripe.forEach { raw in inodes.append((raw, InodeObject(raw).nodeID)) }
        }
        for (raw, id) in inodes {
            // Under the node stripe, like every other LRU insertion; the slot
            // check skips an object freed or moved since it was gathered.
            nodeTable.withSlot(id) { slot in
                if slot?.object == raw, InodeObject(raw).reference.count == 1 { pushLRU(InodeObject(raw)) }
            }
        }
    }

    public var migrate: Bool {
        get { settings.withLock { $0.migrate } }
        set { settings.withLock { $0.migrate = newValue } }
    }

    /// Changing the budget takes effect at once: a cut below what is in use
    /// wakes the reclaim thread.
    public var budgetBytes: Int {
        get { settings.withLock { $0.budgetBytes } }
        set {
            precondition(newValue >= 0, "budget must not be negative")
            settings.withLock { $0.budgetBytes = newValue }
            noteGrowth()
        }
    }

    public var negativeLimit: Int {
        get { settings.withLock { $0.negativeLimit } }
        set {
            settings.withLock { $0.negativeLimit = max(0, newValue) }
            trimNegativeDentries()
        }
    }

    /// The last reclaim pass's report.
    public var lastReclaim: ReclaimReport? { settings.withLock { $0.lastReclaim } }
}
