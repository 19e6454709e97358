import CSlabSupport
import Slab

/// The cache's counters: one enumeration, bumped in one place, reported by
/// `DirectoryCache.statistics()`.
public enum DCacheCounter: Int, CaseIterable, Sendable {
    case hits
    case misses
    case negativeHits
    case inserts
    case inodesCreated
    case negativeDentries
    case invalidations
    case evictedInodes
    case evictedDentries
    /// Evictions by reason: page-targeted reclaim, the LRU baseline,
    /// compaction with no room to move into, unlinked inodes, and the
    /// negative-dentry cap.
    case evictionsReclaim
    case evictionsLRU
    case evictionsCompaction
    /// Inodes freed when their last link went and nothing held them.
    case evictionsUnlinked
    case evictionsNegativeLimit
    case pagesReclaimed
    case reclaimPasses
    case moves
    case kernelDropsRequested
    case kernelHeld
    case pressureBudget
    case pressurePSI
    case pressureCgroup
    case pressureExplicit
}

extension DirectoryCache.PressureSource {
    var counter: DCacheCounter {
        switch self {
        case .budget: return .pressureBudget
        case .psi: return .pressurePSI
        case .cgroup: return .pressureCgroup
        case .explicit: return .pressureExplicit
        }
    }
}

/// Atomic words, one per counter; a few are gauges that go down too.
final class Counters: @unchecked Sendable {
    private let words: UnsafeMutablePointer<UInt64>

    init() {
        words = .allocate(capacity: DCacheCounter.allCases.count)
        words.initialize(repeating: 0, count: DCacheCounter.allCases.count)
    }

    deinit { words.deallocate() }

    func bump(_ counter: DCacheCounter, by amount: Int = 1) {
        _ = slab_fetch_add_u64(words + counter.rawValue, UInt64(bitPattern: Int64(amount)))
    }

    func value(_ counter: DCacheCounter) -> Int {
        Int(Int64(bitPattern: slab_load_u64(words + counter.rawValue, Int32(SLAB_RELAXED))))
    }
}
