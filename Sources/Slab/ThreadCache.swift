// Per-thread object caches: the allocator's fast path.
//
// Each thread that allocates from or frees to a SlabCache gets a small stack
// of free objects for it (SLUB's per-CPU cache, per thread because user space
// cannot pin itself to a CPU). Only the owner thread pushes and pops, so the
// fast path needs no lock and no atomic read-modify-write. Maintenance
// (reclaim, vacate, shrink, statistics that must be exact) needs the objects
// back, from threads that may be busy or asleep. The handshake:
//
//   owner, each operation           maintenance (the stealer)
//   active = 1        (plain)       steal = 1
//   compiler barrier                membarrier(PRIVATE_EXPEDITED)
//   if steal != 0: back off         wait until active == 0
//   push or pop                     take every object; count = 0
//   active = 0        (release)     steal = 0        (release)
//
// membarrier(2) makes every running thread of the process execute a full
// memory barrier, so either the owner sees steal == 1 and backs off to the
// locked path, or the stealer sees active == 1 and waits for the operation to
// end. This is the asymmetric Dekker pattern liburcu uses: the cost lands on
// the rare side. If membarrier is unavailable, thread caches are off.

import CSlabSupport
import Glibc

/// One thread's cache of free objects for one SlabCache (raw memory; the
/// cache owns it and frees it at deinit).
struct ThreadCache: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer

    private static let headerSize = 64

    static func allocate(capacity: Int) -> ThreadCache {
        var memory: UnsafeMutableRawPointer?
        let rc = posix_memalign(&memory, 64, headerSize + capacity * MemoryLayout<UnsafeMutableRawPointer>.stride)
        guard rc == 0, let memory else { fatalError("Slab: out of memory for a thread cache") }
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: headerSize)
        return ThreadCache(raw: memory)
    }

    func deallocate() { free(raw) }

    // Header fields, each a word of its own at a fixed offset: active (0),
    // steal (4), count (8), allocations (16), frees (24), orphaned (32).
    // count and the counters are written by the owner (or a stealer that
    // holds the cache) and read by statistics, so they are atomics too.
    @inline(__always) var isActive: Bool { slab_load_u32(raw, Int32(SLAB_ACQUIRE)) != 0 }
    @inline(__always) func setActive(_ on: Bool) {
        slab_store_u32(raw, on ? 1 : 0, Int32(on ? SLAB_RELAXED : SLAB_RELEASE))
    }
    @inline(__always) var stealRequested: Bool { slab_load_u32(raw + 4, Int32(SLAB_ACQUIRE)) != 0 }
    @inline(__always) func setStealRequest(_ on: Bool) {
        slab_store_u32(raw + 4, on ? 1 : 0, Int32(on ? SLAB_RELAXED : SLAB_RELEASE))
    }
    @inline(__always) var count: Int { Int(slab_load_u64(raw + 8, Int32(SLAB_RELAXED))) }
    @inline(__always) func setCount(_ n: Int) { slab_store_u64(raw + 8, UInt64(n), Int32(SLAB_RELAXED)) }
    @inline(__always) var allocations: UInt64 { slab_load_u64(raw + 16, Int32(SLAB_RELAXED)) }
    @inline(__always) var frees: UInt64 { slab_load_u64(raw + 24, Int32(SLAB_RELAXED)) }
    /// Single-writer increments: a load and a store, no locked instruction.
    @inline(__always) func countAllocations(_ n: Int) {
        slab_store_u64(raw + 16, allocations &+ UInt64(n), Int32(SLAB_RELAXED))
    }
    @inline(__always) func countFrees(_ n: Int) {
        slab_store_u64(raw + 24, frees &+ UInt64(n), Int32(SLAB_RELAXED))
    }
    /// Set when the owner thread exited; the cache may be adopted. Changed
    /// only under the SlabCache's `threadCaches` lock.
    @inline(__always) var orphaned: UnsafeMutablePointer<Bool> {
        (raw + 32).assumingMemoryBound(to: Bool.self)
    }
    @inline(__always) var slots: UnsafeMutablePointer<UnsafeMutableRawPointer> {
        (raw + ThreadCache.headerSize).assumingMemoryBound(to: UnsafeMutableRawPointer.self)
    }

    /// Starts an owner operation; false if a stealer wants the objects (the
    /// caller must then use the locked path).
    @inline(__always) func enter() -> Bool {
        setActive(true)
        slab_compiler_barrier()
        if stealRequested {
            setActive(false)
            return false
        }
        return true
    }

    @inline(__always) func leave() { setActive(false) }

    @inline(__always) func pop() -> UnsafeMutableRawPointer? {
        guard enter() else { return nil }
        let n = count
        guard n > 0 else {
            leave()
            return nil
        }
        let object = slots[n - 1]
        setCount(n - 1)
        countAllocations(1)
        leave()
        return object
    }

    @inline(__always) func push(_ object: UnsafeMutableRawPointer, capacity: Int) -> Bool {
        guard enter() else { return false }
        let n = count
        guard n < capacity else {
            leave()
            return false
        }
        slots[n] = object
        setCount(n + 1)
        countFrees(1)
        leave()
        return true
    }
}

/// Thread-local map from a cache's registry slot to this thread's ThreadCache.
/// Raw memory: [capacity: Int, pad] then entries of (serial, cache).
struct ThreadTable {
    let raw: UnsafeMutableRawPointer

    static let entrySize = 16
    static let headerSize = 16

    var capacity: Int { raw.load(as: Int.self) }

    @inline(__always) func serial(at slot: Int) -> UInt64 {
        raw.load(fromByteOffset: ThreadTable.headerSize + slot * ThreadTable.entrySize, as: UInt64.self)
    }

    @inline(__always) func cache(at slot: Int) -> ThreadCache {
        ThreadCache(raw: raw.load(fromByteOffset: ThreadTable.headerSize + slot * ThreadTable.entrySize + 8,
                                  as: UnsafeMutableRawPointer.self))
    }

    func set(slot: Int, serial: UInt64, cache: ThreadCache) {
        raw.storeBytes(of: serial, toByteOffset: ThreadTable.headerSize + slot * ThreadTable.entrySize,
                       as: UInt64.self)
        raw.storeBytes(of: cache.raw, toByteOffset: ThreadTable.headerSize + slot * ThreadTable.entrySize + 8,
                       as: UnsafeMutableRawPointer.self)
    }

    /// The calling thread's table, grown to hold `slot`.
    static func current(holding slot: Int) -> ThreadTable {
        if let raw = slab_thread_table_get() {
            let table = ThreadTable(raw: raw)
            if slot < table.capacity { return table }
        }
        let old = slab_thread_table_get().map(ThreadTable.init)
        let capacity = max(16, (slot + 1).nextPowerOfTwo)
        let bytes = headerSize + capacity * entrySize
        let raw = calloc(1, bytes)!
        raw.storeBytes(of: capacity, as: Int.self)
        if let old {
            raw.advanced(by: headerSize).copyMemory(from: old.raw + headerSize, byteCount: old.capacity * entrySize)
            free(old.raw)
        }
        slab_thread_table_set(raw)
        _ = slab_thread_exit_arm(raw)
        return ThreadTable(raw: raw)
    }
}

extension Int {
    fileprivate var nextPowerOfTwo: Int {
        var value = 1
        while value < self { value <<= 1 }
        return value
    }
}

/// Live caches by registry slot, so that a thread's exit can tell which of
/// its table entries still name a live cache. Lock order: registry, then the
/// cache's maintenance lock.
final class CacheRegistry: Sendable {
    struct Entry: @unchecked Sendable {
        let serial: UInt64
        /// Nil between `reserve` and `bind`, while the cache initialises.
        var cache: Unmanaged<SlabCache>?
    }

    struct State {
        var entries: [Entry?] = []
        var freeSlots: [Int] = []
        var nextSerial: UInt64 = 1
    }

    let state = Locked(State())
    /// Whether membarrier works here; thread caches are off if not.
    let threadCachesAvailable: Bool

    init() {
        threadCachesAvailable = slab_membarrier_register() == 0
            && slab_thread_exit_hook(slabThreadExited) == 0
    }

    func reserve() -> (slot: Int, serial: UInt64) {
        state.withLock { state in
            let serial = state.nextSerial
            state.nextSerial += 1
            let entry = Entry(serial: serial, cache: nil)
            if let slot = state.freeSlots.popLast() {
                state.entries[slot] = entry
                return (slot, serial)
            }
            state.entries.append(entry)
            return (state.entries.count - 1, serial)
        }
    }

    func bind(slot: Int, to cache: SlabCache) {
        state.withLock { $0.entries[slot]?.cache = Unmanaged.passUnretained(cache) }
    }

    func unregister(slot: Int) {
        state.withLock { state in
            state.entries[slot] = nil
            state.freeSlots.append(slot)
        }
    }

    /// Hands each live cache in a dying thread's table its ThreadCache back.
    func threadExited(_ table: ThreadTable) {
        state.withLock { state in
            for slot in 0..<min(table.capacity, state.entries.count) {
                let serial = table.serial(at: slot)
                guard serial != 0, let entry = state.entries[slot], entry.serial == serial,
                      let cache = entry.cache else { continue }
                cache.takeUnretainedValue().threadExited(table.cache(at: slot))
            }
        }
    }
}

let cacheRegistry = CacheRegistry()

/// pthread key destructor: runs on a thread that used any cache, as it exits.
private func slabThreadExited(_ raw: UnsafeMutableRawPointer?) {
    guard let raw else { return }
    slab_thread_table_set(nil)
    cacheRegistry.threadExited(ThreadTable(raw: raw))
    free(raw)
}
