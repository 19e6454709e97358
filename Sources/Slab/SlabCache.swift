import CSlabSupport
import Glibc

/// A cache of equal-sized objects on slabs of pages: allocation, free, bulk
/// operations, reclaim, vacate and shrink. See Slab.swift for the design.
public final class SlabCache: @unchecked Sendable {
    public let configuration: Configuration
    /// Read by maintenance passes, which hold `maintenance`; set under it.
    private var callbacksStorage: Callbacks
    var callbacks: Callbacks { callbacksStorage }

    let lists: Locked<SlabLists>
    /// One maintenance pass (reclaim, vacate, shrink, drain) at a time.
    let maintenance = Lock()
    /// Every ThreadCache ever made for this cache (live and orphaned).
    let threadCaches = Locked([ThreadCache]())

    // Copied out of the configuration for the fast path.
    /// The reserved range every object of this cache lies in (owners may
    /// name objects by their offset in it).
    public let regionBase: UnsafeMutableRawPointer
    public let regionBytes: Int
    let threadCacheCapacity: Int
    /// This cache's index in every thread's ThreadTable, and the serial that
    /// tells it from a dead cache that had the same index.
    let slot: Int
    let cacheSerial: UInt64

    /// Pages held by this cache's slabs right now, without taking its lock.
    public var residentPages: Int {
        Int(slab_load_u64(residentSlabsWord, Int32(SLAB_RELAXED))) * (configuration.slabSize / systemPageSize)
    }
    let residentSlabsWord: UnsafeMutableRawPointer

    public init(_ configuration: Configuration, callbacks: Callbacks = Callbacks()) throws(SlabError) {
        try configuration.validate()
        self.configuration = configuration
        self.callbacksStorage = callbacks
        let lists = try SlabLists(configuration)
        residentSlabsWord = lists.residentSlabs
        regionBase = lists.region.base
        regionBytes = lists.region.byteCount
        self.lists = Locked(lists)
        threadCacheCapacity = cacheRegistry.threadCachesAvailable ? configuration.threadCacheCapacity : 0
        (slot, cacheSerial) = cacheRegistry.reserve()
        cacheRegistry.bind(slot: slot, to: self)
    }

    deinit {
        cacheRegistry.unregister(slot: slot)
        threadCaches.withLock { caches in
            for cache in caches { cache.deallocate() }
        }
    }

    /// Installs callbacks after creation: an owner whose callbacks refer to
    /// itself creates the cache first. Waits for a running maintenance pass.
    public func setCallbacks(_ callbacks: Callbacks) {
        maintenance.withLock { callbacksStorage = callbacks }
    }

    // MARK: Allocation

    /// One object, or nil when the reserved range is exhausted. In a
    /// reclaimable cache its count is 0: set it before publishing.
    public func allocate() -> UnsafeMutableRawPointer? {
        if let cache = currentThreadCache(), let object = cache.pop() { return object }
        return allocateSlow()
    }

    func allocateSlow() -> UnsafeMutableRawPointer? {
        if threadCacheCapacity > 0 {
            let cache = currentThreadCache() ?? attachThreadCache()
            if cache.enter() {
                defer { cache.leave() }
                let n = cache.count
                let want = max(1, threadCacheCapacity / 2)
                let given = lists.withLock {
                    $0.take(into: UnsafeMutableBufferPointer(start: cache.slots + n, count: want))
                }
                guard given > 0 else { return nil }
                let object = cache.slots[n + given - 1]
                cache.setCount(n + given - 1)
                cache.countAllocations(1)
                return object
            }
        }
        var object: UnsafeMutableRawPointer?
        lists.withLock { lists in
            var slot = UnsafeMutableRawPointer(bitPattern: 1)!
            let taken = withUnsafeMutablePointer(to: &slot) {
                lists.take(into: UnsafeMutableBufferPointer(start: $0, count: 1))
            }
            if taken == 1 {
                lists.bump(.allocations)
                object = slot
            }
        }
        return object
    }

    /// Fills the whole buffer or nothing (kmem_cache_alloc_array of Lameter's 2015 batch API):
    /// returns false, with no object taken, if the cache cannot give them all.
    /// A batch that fits the thread cache is served from it, refilled under
    /// one lock when short; a larger batch takes the rest from the slabs.
    public func allocate(bulk buffer: UnsafeMutableBufferPointer<UnsafeMutableRawPointer>) -> Bool {
        guard !buffer.isEmpty else { return true }
        var given = 0
        if threadCacheCapacity > 0 {
            let cache = currentThreadCache() ?? attachThreadCache()
            if cache.enter() {
                var n = cache.count
                if n < buffer.count && buffer.count <= threadCacheCapacity {
                    n += lists.withLock {
                        $0.take(into: UnsafeMutableBufferPointer(start: cache.slots + n, count: threadCacheCapacity - n))
                    }
                }
                given = min(n, buffer.count)
                for i in 0..<given { buffer[i] = cache.slots[n - 1 - i] }
                cache.setCount(n - given)
                cache.countAllocations(given)
                cache.leave()
            }
        }
        guard given < buffer.count else { return true }
        return lists.withLock { lists in
            let rest = UnsafeMutableBufferPointer(rebasing: buffer[given...])
            let taken = lists.take(into: rest)
            lists.bump(.allocations, by: taken)
            guard taken == rest.count else {
                lists.give(back: UnsafeBufferPointer(rebasing: buffer[..<(given + taken)]))
                lists.bump(.frees, by: given + taken)
                return false
            }
            return true
        }
    }

    /// Allocates `count` objects, all or none.
    public func allocate(bulk count: Int) -> [UnsafeMutableRawPointer]? {
        var objects = [UnsafeMutableRawPointer](repeating: regionBase, count: count)
        let ok = objects.withUnsafeMutableBufferPointer { allocate(bulk: $0) }
        return ok ? objects : nil
    }

    // MARK: Free

    /// Returns an object. In a reclaimable cache the caller owns it
    /// exclusively: it won `tryFreeze`, or never published it.
    public func free(_ object: UnsafeMutableRawPointer) {
        let offset = object - regionBase
        precondition(offset >= 0 && offset < regionBytes,
                     "SlabCache(\(configuration.name)).free: \(object) is not from this cache")
        if configuration.reclaimable { ObjectReference(object).setCount(0) }
        if let cache = currentThreadCache(), cache.push(object, capacity: threadCacheCapacity) { return }
        freeSlow(object)
    }

    func freeSlow(_ object: UnsafeMutableRawPointer) {
        if threadCacheCapacity > 0 {
            let cache = currentThreadCache() ?? attachThreadCache()
            if cache.enter() {
                defer { cache.leave() }
                // Full: hand the older half back to the slabs, keep the rest.
                let n = cache.count
                let flush = n / 2
                lists.withLock { lists in
                    for i in 0..<flush { lists.give(back: cache.slots[i]) }
                }
                (cache.slots).update(from: cache.slots + flush, count: n - flush)
                cache.slots[n - flush] = object
                cache.setCount(n - flush + 1)
                cache.countFrees(1)
                return
            }
        }
        lists.withLock { lists in
            lists.give(back: object)
            lists.bump(.frees)
        }
    }

    /// Returns many objects (kmem_cache_free_array of Lameter's 2015 batch API): into the
    /// thread cache while it has room, the rest to the slabs under one lock.
    public func free(bulk objects: UnsafeBufferPointer<UnsafeMutableRawPointer>) {
        for object in objects {
            let offset = object - regionBase
            precondition(offset >= 0 && offset < regionBytes,
                         "SlabCache(\(configuration.name)).free: \(object) is not from this cache")
            if configuration.reclaimable { ObjectReference(object).setCount(0) }
        }
        var pushed = 0
        if threadCacheCapacity > 0 {
            let cache = currentThreadCache() ?? attachThreadCache()
            if cache.enter() {
                let n = cache.count
                pushed = min(threadCacheCapacity - n, objects.count)
                (cache.slots + n).update(from: objects.baseAddress!, count: pushed)
                cache.setCount(n + pushed)
                cache.countFrees(pushed)
                cache.leave()
            }
        }
        guard pushed < objects.count else { return }
        lists.withLock { lists in
            lists.give(back: UnsafeBufferPointer(rebasing: objects[pushed...]))
            lists.bump(.frees, by: objects.count - pushed)
        }
    }

    public func free(bulk objects: [UnsafeMutableRawPointer]) {
        objects.withUnsafeBufferPointer { free(bulk: $0) }
    }

    // MARK: Thread caches

    func currentThreadCache() -> ThreadCache? {
        guard threadCacheCapacity > 0, let raw = slab_thread_table_get() else { return nil }
        let table = ThreadTable(raw: raw)
        guard slot < table.capacity, table.serial(at: slot) == cacheSerial else { return nil }
        return table.cache(at: slot)
    }

    /// Gives the calling thread a cache of its own: an orphaned one if a
    /// thread that used this cache has exited, else a new one.
    func attachThreadCache() -> ThreadCache {
        let cache = threadCaches.withLock { caches in
            if let orphan = caches.first(where: { $0.orphaned.pointee }) {
                orphan.orphaned.pointee = false
                return orphan
            }
            let cache = ThreadCache.allocate(capacity: threadCacheCapacity)
            caches.append(cache)
            return cache
        }
        ThreadTable.current(holding: slot).set(slot: slot, serial: cacheSerial, cache: cache)
        return cache
    }

    /// The owner thread is exiting: its objects go back to the slabs and the
    /// ThreadCache waits for adoption.
    func threadExited(_ cache: ThreadCache) {
        maintenance.withLock {
            let n = cache.count
            lists.withLock { lists in
                for i in 0..<n { lists.give(back: cache.slots[i]) }
            }
            cache.setCount(0)
            threadCaches.withLock { _ in cache.orphaned.pointee = true }
        }
    }

    /// Takes every object out of every thread's cache (caller holds
    /// `maintenance`). After this, the lists know every free slot.
    func drainThreadCaches() {
        let caches = threadCaches.withLock { $0 }
        guard !caches.isEmpty else { return }
        for cache in caches { cache.setStealRequest(true) }
        let rc = slab_membarrier()
        precondition(rc == 0, "membarrier failed after registering: \(rc)")
        var objects: [UnsafeMutableRawPointer] = []
        for cache in caches {
            while cache.isActive { sched_yield() }
            let n = cache.count
            objects.append(contentsOf: UnsafeBufferPointer(start: cache.slots, count: n))
            cache.setCount(0)
        }
        lists.withLock { lists in
            for object in objects { lists.give(back: object) }
            lists.bump(.threadCacheDrains)
        }
        for cache in caches { cache.setStealRequest(false) }
    }

    /// Empties every thread's cache into the slabs now.
    public func drain() {
        maintenance.withLock { drainThreadCaches() }
    }
}
