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
    public var kickHandler: (@Sendable ([KickRequest]) -> Void)? {
        get { settings.withLock { $0.kickHandler } }
        set { settings.withLock { $0.kickHandler = newValue } }
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

    // MARK: Inodes

    /// The inode with this id, with a request reference; nil if unknown.
    public func inode(_ id: NodeID) -> InodeReference? {
        nodeTable.withSlot(id) { slot in
            guard let object = slot?.object, ObjectReference(object).tryRetain() else { return nil }
            return InodeReference(InodeObject(object), cache: self)
        }
    }

    /// The root, created once with its id 1, pinned for the cache's life.
    public func insertRoot(identity: BackingIdentity, handle: BackingFileHandle,
                           attributes: InodeAttributes) throws -> InodeReference {
        let reference = try findOrCreateInode(identity: identity, handle: handle, attributes: attributes,
                                              attributeTimeout: 0, reservedID: .root)
        precondition(reference.nodeID == .root, "the root must be the first inode")
        addStableReference(to: .root)
        return reference
    }

    /// Finds the inode of a backing identity (hard links share it), or
    /// creates it; returns it with a request reference and fresh attributes.
    func findOrCreateInode(identity: BackingIdentity, handle: BackingFileHandle, attributes: InodeAttributes,
                           attributeTimeout: Double, observed: AttributeStamp? = nil,
                           reservedID: NodeID? = nil) throws -> InodeReference {
        // The inode stores the device in 32 bits (the kernel's new_encode_dev
        // range: major < 4096, minor < 2^20 — every device this machine has).
        guard identity.device <= UInt64(UInt32.max) else { throw DCacheError.deviceNumberTooLarge(identity.device) }
        let hash = Self.hash(identity)
        let expiry = clock.expiry(after: attributeTimeout)
        if let existing = findInode(identity, hash: hash) {
            nodeTable.withSlot(existing.nodeID) { _ in
                existing.storeAttributes(attributes, expiry: isCurrent(observed) ? expiry : 0)
            }
            existing.setFlags(InodeObject.referenced)
            return InodeReference(existing, cache: self)
        }
        guard let (id, _) = nodeTable.issue(reserving: reservedID) else { throw DCacheError.outOfNodeIDs }
        guard let raw = inodes.allocate() else {
            nodeTable.recycle(id)
            throw DCacheError.outOfMemory
        }
        var longHandle: UnsafeMutableRawPointer?
        if InodeObject.needsLongHandle(handle) {
            longHandle = longHandles.allocate()
            if longHandle == nil {
                inodes.free(raw)
                nodeTable.recycle(id)
                throw DCacheError.outOfMemory
            }
        }
        // A new inode's attributes stay fresh whatever `observed` says: no
        // change through the mount can have reached a file it had no inode for.
        let inode = InodeObject(raw)
        inode.initialize(nodeID: id, identity: identity, handle: handle,
                         longHandle: longHandle, attributes: attributes, expiry: expiry)
        inode.reference.setCount(2)  // the cache's own and the caller's
        let winner: InodeObject? = nodeTable.withSlot(id) { slot in
            identityTable.withStripe(hash) { stripe in
                // Another thread may have created it meanwhile: use theirs.
                if let other = stripe.find(hash, { InodeObject($0).identity == identity }),
                   ObjectReference(other).tryRetain() {
                    return InodeObject(other)
                }
                slot!.object = raw
                stripe.insert(raw, hash: hash)
                if evictionPolicy == .lru { pushLRU(inode) }
                return nil
            }
        }
        if let winner {
            inode.reference.setCount(0)
            if let longHandle { longHandles.free(longHandle) }
            inodes.free(raw)
            nodeTable.recycle(id)
            nodeTable.withSlot(winner.nodeID) { _ in
                winner.storeAttributes(attributes, expiry: isCurrent(observed) ? expiry : 0)
            }
            return InodeReference(winner, cache: self)
        }
        counters.bump(.inodesCreated)
        noteGrowth()
        return InodeReference(inode, cache: self)
    }

    private func findInode(_ identity: BackingIdentity, hash: UInt32) -> InodeObject? {
        identityTable.withStripe(hash) { stripe in
            guard let object = stripe.find(hash, { InodeObject($0).identity == identity }),
                  ObjectReference(object).tryRetain() else { return nil }
            return InodeObject(object)
        }
    }

    static func hash(_ identity: BackingIdentity) -> UInt32 {
        var h = identity.inode &* 0x9E37_79B9_7F4A_7C15 ^ identity.device &* 0xC2B2_AE3D_27D4_EB4F
        h ^= h >> 29
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }

    /// Adds a stable reference to a live inode (a dentry, an open handle,
    /// the kernel). Returns false if the inode is not cached.
    @discardableResult
    func addStableReference(to id: NodeID) -> Bool {
        nodeTable.withSlot(id) { slot in
            guard let object = slot?.object, ObjectReference(object).tryRetain() else { return false }
            InodeObject(object).stable += 1
            return true
        }
    }

    func dropStableReference(to id: NodeID) {
        let unlinked: UnsafeMutableRawPointer? = nodeTable.withSlot(id) { slot in
            guard let object = slot?.object else {
                preconditionFailure("DCache: dropping a reference to uncached node \(id)")
            }
            let inode = InodeObject(object)
            precondition(inode.stable > 0, "DCache: node \(id) has no stable reference to drop")
            inode.stable -= 1
            guard inode.reference.release() == 1 else { return nil }
            if inode.flags & InodeObject.unlinked != 0 { return object }
            inodeBecameUnused(inode)
            return nil
        }
        if let unlinked { freeIfUnlinkedAndUnused(unlinked, id: id) }
    }

    /// The backing name (parent, name) of `id` was removed: if that was its
    /// last link (a directory, or a file whose cached link count was 1), the
    /// inode goes as soon as nothing holds it, instead of waiting, unused,
    /// for reclaim. Call after `remove`/`invalidate` of the name.
    public func markUnlinked(_ id: NodeID) {
        let unusedNow: UnsafeMutableRawPointer? = nodeTable.withSlot(id) { slot in
            guard let object = slot?.object else { return nil }
            let inode = InodeObject(object)
            let attributes = inode.attributes
            guard attributes.isDirectory || attributes.nlink <= 1 else { return nil }
            inode.setFlags(InodeObject.unlinked)
            return inode.reference.count == 1 ? object : nil
        }
        if let unusedNow { freeIfUnlinkedAndUnused(unusedNow, id: id) }
    }

    /// Frees an unlinked inode nobody holds (won 1 -> 0 under its stripe).
    func freeIfUnlinkedAndUnused(_ raw: UnsafeMutableRawPointer, id: NodeID) {
        let victim: InodeObject? = nodeTable.withSlot(id) { slot in
            guard slot?.object == raw else { return nil }
            let inode = InodeObject(raw)
            guard inode.flags & InodeObject.unlinked != 0, inode.reference.tryFreeze() else { return nil }
            slot!.object = nil
            let hash = Self.hash(inode.identity)
            identityTable.withStripe(hash) { _ = $0.remove(raw, hash: hash) }
            return inode
        }
        guard let victim else { return }
        counters.bump(.evictedInodes)
        counters.bump(.evictionsUnlinked)
        retire(victim)
        inodes.free(raw)
    }

    /// The kernel's LRU takes an inode when its last user lets go. Called
    /// under the inode's node stripe: once that is released, an unused inode
    /// may be reclaimed at any moment.
    func inodeBecameUnused(_ inode: InodeObject) {
        guard evictionPolicy == .lru else { return }
        pushLRU(inode)
    }

    /// The policy, readable without a lock on every release.
    var evictionPolicy: EvictionPolicy { policyWord.load(ordering: .relaxed) == 0 ? .page : .lru }

    // MARK: Kernel lookup counts and open handles

    /// Counts lookups the kernel is about to be told of (a LOOKUP, CREATE,
    /// MKDIR, ... reply or a readdirplus entry). Call before replying: the
    /// kernel may send FORGET at once.
    public func kernelLookup(_ inode: InodeReference, count: UInt64 = 1) {
        nodeTable.withSlot(inode.nodeID) { _ in
            let object = inode.object
            if object.kernelLookups == 0 {
                object.stable += 1
                object.reference.retain()
                counters.bump(.kernelHeld)
            }
            // Saturates (see InodeObject.kernelLookups).
            object.kernelLookups = UInt32(min(UInt64(object.kernelLookups) + count, UInt64(UInt32.max)))
        }
    }

    /// FORGET: the kernel dropped `count` lookups of `id`.
    public func forget(_ id: NodeID, count: UInt64) {
        if forgetOne(id, count: count) { noteUnpinned() }
    }

    /// BATCH_FORGET.
    public func forget(bulk items: [(NodeID, UInt64)]) {
        var unpinned = false
        for (id, count) in items { unpinned = forgetOne(id, count: count) || unpinned }
        if unpinned { noteUnpinned() }
    }

    /// Whether the kernel let go of the inode (`noteUnpinned`).
    private func forgetOne(_ id: NodeID, count: UInt64) -> Bool {
        let dropped: Bool = nodeTable.withSlot(id) { slot in
            guard let object = slot?.object else { return false }
            let inode = InodeObject(object)
            guard inode.kernelLookups > 0, inode.kernelLookups < UInt32.max else { return false }
            inode.kernelLookups -= UInt32(min(count, UInt64(inode.kernelLookups)))
            return inode.kernelLookups == 0
        }
        if dropped {
            counters.bump(.kernelHeld, by: -1)
            dropStableReference(to: id)
        }
        return dropped
    }

    /// An open file or directory handle holds the inode (by id, never by
    /// address).
    public func openHandle(_ inode: InodeReference) {
        let added = addStableReference(to: inode.nodeID)
        precondition(added, "openHandle on an inode the caller does not hold")
    }

    public func closeHandle(_ id: NodeID) {
        dropStableReference(to: id)
    }

    /// The kernel's lookup count of a node (for `user.slabfs.object`).
    public func kernelLookups(of id: NodeID) -> UInt64? {
        nodeTable.withSlot(id) { slot in slot?.object.map { UInt64(InodeObject($0).kernelLookups) } }
    }

    // MARK: Attributes

    /// Cached attributes, and whether they are still within their timeout.
    public func attributes(of inode: InodeReference) -> (attributes: InodeAttributes, fresh: Bool) {
        nodeTable.withSlot(inode.nodeID) { _ in
            (inode.object.attributes, clock.isBefore(inode.object.attributesExpiry))
        }
    }

    /// Stores attributes read from the backing file. With `observed`, the
    /// stamp taken before that read, they are stored stale if any inode's
    /// attributes were invalidated since: a change made through the mount
    /// while the read was under way (another request thread) may postdate
    /// it, and the cache must not serve the older attributes as fresh.
    public func setAttributes(_ inode: InodeReference, _ attributes: InodeAttributes, timeout: Double,
                              observed: AttributeStamp? = nil) {
        let expiry = clock.expiry(after: timeout)
        nodeTable.withSlot(inode.nodeID) { _ in
            inode.object.storeAttributes(attributes, expiry: isCurrent(observed) ? expiry : 0)
        }
    }

    /// The mode last cached (fresh or not), nil if the node is not cached.
    public func cachedMode(of id: NodeID) -> UInt32? {
        nodeTable.withSlot(id) { slot in slot?.object.map { InodeObject($0).attributes.mode } }
    }

    /// Marks the attributes stale, so the next getattr asks the backing file.
    /// Returns the mode last cached (its file type is right, its permission
    /// bits as fresh as the attributes were), nil if the node is not cached.
    @discardableResult
    public func invalidateAttributes(_ id: NodeID) -> UInt32? {
        nodeTable.withSlot(id) { slot in
            // Under the slot's lock, as the check in `setAttributes` is: a
            // store either precedes this invalidation or sees its count.
            attributeInvalidations.add(1, ordering: .relaxed)
            guard let object = slot?.object else { return nil }
            let inode = InodeObject(object)
            inode.attributesExpiry = 0
            return inode.attributes.mode
        }
    }

    /// Take one before reading attributes from a backing file; pass it
    /// with what was read (`setAttributes`, `insert`).
    public var attributeStamp: AttributeStamp {
        AttributeStamp(invalidations: attributeInvalidations.load(ordering: .relaxed))
    }

    /// Call under the slot lock of the inode being stored.
    func isCurrent(_ stamp: AttributeStamp?) -> Bool {
        guard let stamp else { return true }
        return attributeInvalidations.load(ordering: .relaxed) == stamp.invalidations
    }
}

/// The cache's count of attribute invalidations at one moment. One count
/// for all inodes: a conflict is rare (two request threads, a change and a
/// read at once), and one that is not real costs one extra stat later.
public struct AttributeStamp: Sendable, Equatable {
    let invalidations: UInt64
}

/// A request's reference to an inode: it pins the object to its address
/// until `release()`. Copying the value does not add a reference.
public struct InodeReference: @unchecked Sendable {
    let object: InodeObject
    unowned(unsafe) let cache: DirectoryCache

    init(_ object: InodeObject, cache: DirectoryCache) {
        self.object = object
        self.cache = cache
    }

    public var nodeID: NodeID { object.nodeID }
    public var generation: UInt64 { UInt64(cache.nodeTable.generation(of: nodeID)) }
    public var identity: BackingIdentity { object.identity }
    public var handle: BackingFileHandle { object.handle }
    /// `handle.type` without building the handle (an array) first.
    public var handleType: Int32 { object.handleType }
    /// The object's address (for `user.slabfs.object`).
    public var address: UnsafeMutableRawPointer { object.raw }
    public var count: UInt32 { object.reference.count }

    /// Ends the request's hold.
    public func release() {
        // Read while the reference still pins the object.
        let id = nodeID
        let unlinked = object.flags & InodeObject.unlinked != 0
        if cache.evictionPolicy == .lru && !unlinked {
            // The LRU must see the object before anyone can free it.
            cache.nodeTable.withSlot(id) { _ in
                if object.reference.release() == 1 { cache.inodeBecameUnused(object) }
            }
            return
        }
        if object.reference.release() == 1 && unlinked { cache.freeIfUnlinkedAndUnused(object.raw, id: id) }
    }
}

public enum DCacheError: Error, Equatable, CustomStringConvertible {
    case outOfMemory
    case outOfNodeIDs
    case nameTooLong(Int)
    case invalidName
    case parentNotCached(NodeID)
    case invalidConfiguration(String)
    case deviceNumberTooLarge(UInt64)

    public var description: String {
        switch self {
        case .outOfMemory: return "the cache's reserved memory is exhausted"
        case .outOfNodeIDs: return "no node ids left"
        case .nameTooLong(let n): return "name of \(n) bytes is longer than 255"
        case .invalidName: return "a name must be non-empty and hold no '/' or NUL"
        case .parentNotCached(let id): return "parent node \(id) is not cached"
        case .invalidConfiguration(let what): return "invalid configuration: \(what)"
        case .deviceNumberTooLarge(let device): return "backing device number \(device) does not fit 32 bits"
        }
    }
}
