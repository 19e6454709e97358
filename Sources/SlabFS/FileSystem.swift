// The mounted filesystem: the state every FUSE operation shares.
//
// How a request reaches the backing file
// --------------------------------------
// The kernel names inodes by node id. A node id leads to a DCache inode
// (`cache.inode(_:)`), which keeps the backing file's handle
// (name_to_handle_at), not a descriptor: the descriptor limit is 20,000 and
// a cache of a million inodes must not hold one each. An operation opens
// what it needs from the handle (O_PATH for stat, chown and as the directory
// of an *at call; the real flags for open), uses it, and closes it. Where the
// backing filesystem has no handles (or an entry sits on another mount) a
// lookup gets an O_PATH descriptor instead; `PathDescriptors` keeps it for
// as long as the kernel holds the node, and the inode's stored handle is the
// `descriptorHandleType` marker.
//
// Open files and directories (fi->fh) are ids into `HandleTable`, never
// addresses; each holds the inode through `cache.openHandle`.
//
// Lookup counts: every reply that hands the kernel an inode (lookup, create,
// mkdir, mknod, symlink, link, readdirplus) counts it with
// `cache.kernelLookup` *before* the reply is sent, since FORGET may come at
// once; if the reply cannot be sent the count is taken back.
//
// Coherence: the kernel trusts names and attributes for the entry and attr
// timeouts; our cache trusts them for the (longer) cache timeout, so the
// kernel's revalidations are answered without touching the backing
// directory. Every change made through the mount updates or invalidates the
// cache at once; past the cache timeout we ask the backing directory again,
// and a name found gone (ENOENT), replaced (another device and inode) or
// stale (ESTALE) leaves the cache.
//
// Locks of this module, in the order they are taken (then DCache's, then
// Slab's; docs/DESIGN.md has all three): `Passthrough`'s registry (an open
// that registers a backing file opens it under it), then `PathDescriptors`'
// table (which reads a node-table slot inside it). `HandleTable`, the
// directory descriptors and places and the kernel drop thread's queues are
// each taken alone. No FUSE notification or backing-file ioctl is sent with
// any held.

import CFuse
import DCache
import Glibc
import Slab
import Synchronization
import SystemPackage

final class FileSystem: Sendable {
    let configuration: MountConfiguration
    let backing: BackingDirectory
    let cache: DirectoryCache
    let handles = HandleTable()
    let pathDescriptors = PathDescriptors()
    let directoryDescriptors = DirectoryDescriptors()
    let directoryPlaces = DirectoryPlaces()
    let kernelDrops: KernelDropThread
    /// The one-thread loop, and its polling bound (a runtime setting).
    let requestLoop: RequestLoop
    /// The kernel asks for READDIRPLUS only at a listing's start or after
    /// lookups in the directory (readdirplus_auto, set at INIT), so a short
    /// READDIRPLUS buffer is followed by plain READDIRs.
    let kernelChoosesReaddirplus = Atomic<Bool>(false)
    /// Whether OPENDIR lets the kernel keep listings (`--readdir-cache`,
    /// settable while mounted: `user.slabfs.readdir_cache`).
    let readdirCacheEnabled: Atomic<Bool>
    /// Whether inodes are remembered by file handle. False where the
    /// backing filesystem has none, where this process may not open them
    /// (open_by_handle_at needs CAP_DAC_READ_SEARCH: a mount by an ordinary
    /// user), or when SLABFS_FILE_HANDLES=off asks for the fallback (tests):
    /// then every inode the kernel holds keeps an O_PATH descriptor.
    let usesHandles: Bool
    /// With allow_other, requests run with the caller's credentials.
    let runsAsCaller: Bool
    /// The daemon's own ids: a caller with the same needs no switch.
    let daemonUser: uid_t
    let daemonGroup: gid_t
    /// Events or timeouts, and what the event watcher did.
    let coherence: Coherence
    /// Drops what changed behind the mount; nil with timeouts.
    let watcher: EventWatcher?
    /// Regular files' reads and writes done by the kernel.
    let passthrough: Passthrough
    /// The last `user.slabfs.compact` report, for reading it back.
    let lastCompaction = Locked<CompactionReport?>(nil)

    /// The handle type stored for an inode reached through a kept O_PATH
    /// descriptor: real handle types are small non-negative numbers.
    static let descriptorHandleType = Int32.min

    /// The entry and attr timeouts, read by every reply and settable while
    /// mounted (`user.slabfs.entry_timeout`, `attr_timeout`, `cache_timeout`): a Double's
    /// bits in an atomic each. A change applies to replies from then on.
    private let entryTimeoutBits: Atomic<UInt64>
    private let attributeTimeoutBits: Atomic<UInt64>
    private let cacheTimeoutBits: Atomic<UInt64>

    var entryTimeout: Double {
        get { Double(bitPattern: entryTimeoutBits.load(ordering: .relaxed)) }
        set { entryTimeoutBits.store(newValue.bitPattern, ordering: .relaxed) }
    }
    var attributeTimeout: Double {
        get { Double(bitPattern: attributeTimeoutBits.load(ordering: .relaxed)) }
        set { attributeTimeoutBits.store(newValue.bitPattern, ordering: .relaxed) }
    }
    /// How long our cache trusts what it records (`user.slabfs.cache_timeout`).
    var cacheTimeout: Double {
        get { Double(bitPattern: cacheTimeoutBits.load(ordering: .relaxed)) }
        set { cacheTimeoutBits.store(newValue.bitPattern, ordering: .relaxed) }
    }

    /// Opens the backing root and builds the cache with its root inode.
    /// Starts threads (the cache's PSI monitor, the kernel drop thread): call it after
    /// daemonizing, since fork keeps only the calling thread.
    init(configuration: MountConfiguration, backing: BackingDirectory, watch: BackingWatch? = nil,
         coherenceReason: String? = nil, passthroughRefusal: String? = nil) throws {
        self.configuration = configuration
        self.backing = backing
        entryTimeoutBits = Atomic(configuration.entryTimeoutSeconds.bitPattern)
        attributeTimeoutBits = Atomic(configuration.attrTimeoutSeconds.bitPattern)
        cacheTimeoutBits = Atomic(configuration.cacheTimeoutSeconds.bitPattern)
        readdirCacheEnabled = Atomic(configuration.readdirCache)
        cache = try DirectoryCache(Self.cacheConfiguration(configuration))
        kernelDrops = KernelDropThread(cache: cache, kernelCacheLimit: configuration.kernelCacheLimit)
        requestLoop = RequestLoop(maximumMicroseconds: configuration.pollMicroseconds)
        usesHandles = Self.handlesWork(backing)
        runsAsCaller = configuration.allowOther
        daemonUser = geteuid()
        daemonGroup = getegid()
        passthrough = Passthrough(wanted: configuration.passthrough != .off && passthroughRefusal == nil,
                                  refusal: passthroughRefusal)
        let coherence = Coherence(watch: watch, reason: coherenceReason)
        self.coherence = coherence
        let cache = self.cache
        let passthrough = self.passthrough
        watcher = watch.map {
            EventWatcher(watch: $0, cache: cache, coherence: coherence, inPassthrough: { passthrough.isOpenOrRecent($0) },
                         attributesChanged: { passthrough.dropIdle($0) })
        }
        let kernelDrops = self.kernelDrops
        cache.kernelDropHandler = { @Sendable requests in kernelDrops.enqueue(requests) }
        kernelDrops.closeBacking = { passthrough.closeBacking($0) }
        try insertRoot()
        watcher?.refresher.refresh = { [unowned self] in self.refreshStaleAttributes(of: $0) }
    }

    // MARK: Timeouts by coherence

    /// With events, a file on a filesystem under the backing directory that
    /// is not watched keeps the short timeouts of `--coherence timeouts`.
    func entryTimeout(device: UInt64) -> Double {
        coherence.needsShortTimeouts(device: device) ? min(entryTimeout, MountConfiguration.defaultTimeoutSeconds) : entryTimeout
    }
    func attributeTimeout(device: UInt64) -> Double {
        coherence.needsShortTimeouts(device: device)
            ? min(attributeTimeout, MountConfiguration.defaultTimeoutSeconds) : attributeTimeout
    }
    func cacheTimeout(device: UInt64) -> Double {
        coherence.needsShortTimeouts(device: device)
            ? min(cacheTimeout, MountConfiguration.defaultCacheTimeoutSeconds) : cacheTimeout
    }
    /// "No such entry" is trusted by the kernel for the short entry timeout
    /// even with events: after lost events, a kernel without
    /// FUSE_NOTIFY_INC_EPOCH has no way to drop the negative entries we
    /// cannot list.
    var negativeEntryTimeout: Double {
        coherence.eventsActive ? min(entryTimeout, MountConfiguration.defaultTimeoutSeconds) : entryTimeout
    }

    static func cacheConfiguration(_ mount: MountConfiguration) -> DirectoryCache.Configuration {
        var configuration = DirectoryCache.Configuration()
        configuration.eviction = mount.eviction == .lru ? .lru : .page
        configuration.migrate = mount.migrate
        configuration.budgetBytes = mount.cacheSizeBytes
        configuration.negativeLimit = mount.negativeDentryLimit
        configuration.psiThresholdMicroseconds = mount.psiThresholdMicroseconds
        configuration.slabSize = mount.pageSizeBytes
        return configuration
    }

    /// Decided once, at startup: a handle of the root that opens.
    static func handlesWork(_ backing: BackingDirectory) -> Bool {
        guard backing.supportsHandles, getenv("SLABFS_FILE_HANDLES").map({ String(cString: $0) }) != "off",
              case .handle(let handle)? = try? backing.rootLocator(),
              let descriptor = try? backing.open(handle, .readOnly, options: .path) else { return false }
        try? descriptor.close()
        return true
    }

    private func insertRoot() throws {
        let status = backing.rootStat.rawValue
        // The root is always reached through `backing.root`; its handle is
        // kept for the record only.
        var handle = BackingFileHandle(type: Self.descriptorHandleType, bytes: [])
        if usesHandles, case .handle(let backingHandle) = try backing.rootLocator() {
            handle = Self.cacheHandle(backingHandle)
        }
        let root = try cache.insertRoot(identity: try Self.identity(of: status), handle: handle,
                                        attributes: InodeAttributes(status))
        root.release()
    }

    // MARK: Conversions

    static func cacheHandle(_ handle: BackingHandle) -> BackingFileHandle {
        BackingFileHandle(type: handle.type, bytes: Array(handle.bytes))
    }

    /// The cache stores the device in 32 bits; Linux device numbers of local
    /// filesystems fit, anything else is refused rather than trapped on.
    static func identity(of status: stat) throws(Errno) -> BackingIdentity {
        let device = UInt64(status.st_dev)
        guard device <= UInt64(UInt32.max) else { throw .overflow }
        return BackingIdentity(device: device, inode: UInt64(status.st_ino))
    }

    // MARK: Inodes of a request

    /// The inode the kernel names, with a request reference the caller
    /// releases. ESTALE if it is not cached: the kernel holds what it names,
    /// so that means a node id we never gave out.
    func inode(_ node: fuse_ino_t) throws(Errno) -> InodeReference {
        guard let inode = cache.inode(NodeID(node)) else { throw .staleNFSFileHandle }
        return inode
    }

    /// Runs `body` with the inode of `node`, released afterwards.
    func withInode<R>(_ node: fuse_ino_t, _ body: (InodeReference) throws -> R) throws -> R {
        let inode = try inode(node)
        defer { inode.release() }
        return try body(inode)
    }
}

/// The filesystem of a request, from the session's userdata.
@inline(__always)
func fileSystem(_ request: fuse_req_t?) -> FileSystem {
    Unmanaged<SessionContext>.fromOpaque(fuse_req_userdata(request)!).takeUnretainedValue().fileSystem!
}

/// What the session's userdata points at. The filesystem is created after
/// the session (and after daemonizing, which forks), but before the loop
/// starts the threads that read it: pthread_create orders the write before
/// every read.
final class SessionContext: @unchecked Sendable {
    var fileSystem: FileSystem?
}
