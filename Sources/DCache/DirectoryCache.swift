import CSlabSupport
import DequeModule
import Glibc
import Slab
import Synchronization

/// The dentry and inode caches with their lookup tables, reference protocol,
/// eviction policies and memory budget. See DCache.swift for the design.
public final class DirectoryCache: @unchecked Sendable {
    public let configuration: Configuration

    let inodes: SlabCache
    let dentries: SlabCache
    /// Names longer than 24 bytes, owned by their dentry.
    let longNames: SlabCache
    /// File handles that do not fit the inode's 8 bytes, owned by it.
    let longHandles: SlabCache

    let nodeTable: NodeTable
    let identityTable: StripedTable
    let dentryTable: StripedTable

    let counters = Counters()
    let clock = Clock()
    /// Cold end first; entries may be stale (freed or reused slots): checked
    /// against the tables when popped, as the kernel's lazy LRU does.
    let inodeLRU = Locked(Deque<LRUEntry>())
    let dentryLRU = Locked(Deque<LRUEntry>())
    /// Negative dentries oldest first, for the cap.
    let negativeQueue = Locked(Deque<LRUEntry>())

    /// Serialises reclaim passes; settings may change between passes.
    let reclaimLock = Lock()
    let settings: Locked<Settings>
    /// Asks the owner to make the kernel let go of these entries (the
    /// filesystem calls fuse_lowlevel_notify_inval_entry). Called on the
    /// reclaim thread with no DCache lock held.
    public var kernelDropHandler: (@Sendable ([KernelDropRequest]) -> Void)? {
        get { settings.withLock { $0.kernelDropHandler } }
        set { settings.withLock { $0.kernelDropHandler = newValue } }
    }

    var pressure: PressureMonitor?
    let reclaimer = ReclaimThread()
    /// Counts reclaim calls; second chances last for one (see
    /// `spendsSecondChance`). Never 0 in its low 16 bits.
    let reclaimEpoch = Atomic<Int>(1)
    /// 0 page, 1 lru: `evictionPolicy` reads it on every release.
    let policyWord = Atomic<Int>(0)
    /// Counts `invalidateAttributes` calls (`AttributeStamp`).
    let attributeInvalidations = Atomic<UInt64>(0)

    struct LRUEntry {
        let object: UnsafeMutableRawPointer
        /// Node id for an inode; parent id for a dentry.
        let key: UInt64
        let hash: UInt32
    }

    public init(_ configuration: Configuration) throws {
        try configuration.validate()
        self.configuration = configuration
        settings = Locked(Settings(configuration))
        policyWord.store(configuration.eviction == .lru ? 1 : 0, ordering: .relaxed)
        func cache(_ name: String, _ size: Int, reclaimable: Bool, reserve: Int) throws -> SlabCache {
            var c = SlabCache.Configuration(name: name, objectSize: size, slabSize: configuration.slabSize,
                                            reclaimable: reclaimable)
            c.reservedBytes = reserve
            c.circulation = configuration.circulation
            c.shrinkFillRatio = 1.0
            c.emptySlabsKept = 1
            return try SlabCache(c)
        }
        // Filled in below, once `self` exists for the callbacks.
        inodes = try cache("slabfs_inode", InodeObject.size, reclaimable: true, reserve: configuration.reservedBytes)
        dentries = try cache("slabfs_dentry", DentryObject.size, reclaimable: true, reserve: configuration.reservedBytes)
        longNames = try cache("slabfs_name", DentryObject.maximumNameLength + 1, reclaimable: false,
                              reserve: configuration.reservedBytes / 4)
        longHandles = try cache("slabfs_handle", InodeObject.longHandleObjectSize, reclaimable: false,
                                reserve: configuration.reservedBytes / 4)
        nodeTable = try NodeTable(objectsOf: inodes)
        identityTable = try StripedTable(objectsOf: inodes) { DirectoryCache.hash(InodeObject($0).identity) }
        dentryTable = try StripedTable(objectsOf: dentries) { DentryObject($0).hash }
        inodes.setCallbacks(inodeCallbacks())
        dentries.setCallbacks(dentryCallbacks())
        reclaimer.attach(self)
        if configuration.psiThresholdMicroseconds > 0 {
            pressure = PressureMonitor(cache: self)
        }
    }

    deinit {
        pressure?.stop()
        reclaimer.stop()
    }

    /// Every slab cache this directory cache uses, for slabinfo.
    public var slabCaches: [SlabCache] { [dentries, inodes, longNames, longHandles] }

    /// Pages held by all four caches.
    /// Summed field by field: it is read on every insert (`noteGrowth`), and
    /// `slabCaches` builds an array.
    public var residentPages: Int {
        dentries.residentPages + inodes.residentPages + longNames.residentPages + longHandles.residentPages
    }
}
