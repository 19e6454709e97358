// The slab allocator under slabfs's dentry and inode caches.
//
// What lives where
// ----------------
// A cache reserves one range of virtual memory (`Configuration.reservedBytes`)
// and cuts it into slabs of `slabSize` bytes (one page by default), each cut
// into equal slots of `objectStride` bytes. Slab metadata lives outside the
// slabs, in a side table indexed by slab number, like the kernel's
// `struct page`: a slab holds objects only, so an empty slab can be handed back
// to the kernel with MADV_DONTNEED and resident memory really drops. The range
// stays mapped for the life of the cache, so a late read of a released slab
// sees zeros (a reference count of 0, "free") instead of faulting; lock-free
// scanners rely on that. An object's slab is `(address - base) / slabSize`:
// O(1), no search.
//
// A slot is allocated or free. A free slot is on exactly one of: its slab's
// free list (a slot index stored at byte offset 4 of the free object), the
// uncarved tail of its slab (slots at or after `carved` were never handed out
// since the slab was last released), or one thread's object cache
// (`ThreadCache`). The allocated-slot bitmap counts thread-cached slots as
// allocated; so does `inUse`.
//
// Slab lists (Lameter, LCA 2015; the SLAB_RECLAIM proposal, 2006)
// ---------------------------
// Every slab is on one list: `full`, oldest first; `partial`, bucketed by the
// number of objects in use so that allocation takes the fullest partial slab
// and reclaim walks the sparsest first in O(1); `empty`, a few kept back with
// their pages; `released`, pages given back; or none while a reclaim pass or
// vacate holds it isolated (no allocation comes from it; frees into it do).
//
// Reclaimable caches: the reference count comes first (Lameter's SLAB_RECLAIM proposal, 2006)
// ---------------------------------------------------------------
// Every object of a reclaimable cache starts with a 32-bit atomic count:
// 0 free or being freed, 1 unused cache information, >1 in use. Taking a
// reference is increment-unless-zero (`ObjectReference.tryRetain`). The
// allocator returns objects with a count of 0; the owner sets the count
// before publishing. Reclaim frees an object only after winning CAS 1 -> 0,
// then calls the destructor, which unpublishes it. Whoever loses the race backs
// off. Frees store 0 again, so a free slot always reads 0.
//
// Locks, in the order they are taken
// ----------------------------------
//   1. `maintenance` (per cache): one reclaim, vacate, shrink or thread-cache
//      drain at a time; also taken by a thread's exit hook.
//   2. a thread cache's `active` flag (not a lock: see ThreadCache.swift).
//   3. `lists` (per cache, a `Locked` pthread mutex): slab lists, descriptors, bitmaps,
//      counters. Never held while calling a client callback.
// Client callbacks (destructor, mobility get/kick) run with only `maintenance`
// held; they may take their own locks (the owner's lookup-table buckets come
// before `lists` in the whole program's order) and may free other objects of
// the cache, but must not call reclaim, vacate or shrink on it.
//
// Fast path
// ---------
// Allocation and free go to the calling thread's object cache for this slab
// cache (like SLUB's per-CPU caches, but per thread because user space cannot
// pin itself to a CPU) with no lock and no atomic read-modify-write: the owner
// thread marks itself active with a plain store, and a maintenance pass that
// wants the objects back sets a steal request and runs membarrier(2) before
// looking at the active flag (an asymmetric Dekker handshake). See
// ThreadCache.swift.

import Glibc

/// Why a cache could not be created.
public enum SlabError: Error, Equatable, CustomStringConvertible, Sendable {
    case invalidObjectSize(Int)
    case invalidAlignment(Int)
    case invalidSlabSize(Int)
    case objectTooLargeForSlab(objectStride: Int, slabSize: Int)
    case invalidReservation(Int)
    case invalidSetting(String)
    case mapFailed(errno: Int32)

    public var description: String {
        switch self {
        case .invalidObjectSize(let size):
            return "object size \(size) is invalid: it must be at least 1 byte"
        case .invalidAlignment(let alignment):
            return "alignment \(alignment) is invalid: it must be a power of two no larger than the slab"
        case .invalidSlabSize(let size):
            return "slab size \(size) is invalid: it must be a power-of-two multiple of the \(systemPageSize)-byte page"
        case .objectTooLargeForSlab(let stride, let slab):
            return "an object of \(stride) bytes does not fit a \(slab)-byte slab"
        case .invalidReservation(let bytes):
            return "reservation of \(bytes) bytes is invalid: it must hold at least one slab"
        case .invalidSetting(let what):
            return "invalid setting: \(what)"
        case .mapFailed(let code):
            return "could not reserve memory: \(String(cString: strerror(code)))"
        }
    }
}

/// The kernel's page size, the unit in which slabs are sized and released.
public let systemPageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

extension SlabCache {
    /// What a cache holds and how it behaves. Only `name` and `objectSize`
    /// are required.
    public struct Configuration: Sendable {
        /// Shown in slabinfo; the kernel's column is 17 characters wide.
        public var name: String
        /// Bytes the caller needs per object.
        public var objectSize: Int
        /// Power of two; objects are placed at multiples of it.
        public var alignment: Int = 8
        /// Bytes per slab: a power-of-two multiple of the page size.
        public var slabSize: Int = systemPageSize
        /// Objects follow the refcount-first convention and may be reclaimed.
        public var reclaimable: Bool = false
        /// Unused objects freed per slab that still has objects in use, per
        /// reclaim pass (the SLAB_RECLAIM proposal's "a couple"): the circulation that lets hot
        /// objects gather in long-lived slabs.
        public var circulation: Int = 2
        /// Empty slabs kept with their pages for quick reuse.
        public var emptySlabsKept: Int = 2
        /// `shrink()` vacates partial slabs filled below this ratio.
        public var shrinkFillRatio: Double = 0.3
        /// Objects each thread may hold in its cache; 0 turns thread caches off.
        public var threadCacheCapacity: Int = 64
        /// Virtual address space reserved up front; bounds the cache's size.
        public var reservedBytes: Int = 4 << 30

        public init(name: String, objectSize: Int, alignment: Int = 8, slabSize: Int = systemPageSize,
                    reclaimable: Bool = false) {
            self.name = name
            self.objectSize = objectSize
            self.alignment = alignment
            self.slabSize = slabSize
            self.reclaimable = reclaimable
        }

        /// Bytes between the starts of neighbouring objects. At least 8, so a
        /// free slot has room for the count (offset 0) and free-list link (4).
        public var objectStride: Int {
            let align = max(alignment, 4)
            let size = max(objectSize, 8)
            return (size + align - 1) & ~(align - 1)
        }

        public var objectsPerSlab: Int { slabSize / objectStride }

        func validate() throws(SlabError) {
            guard objectSize >= 1 else { throw .invalidObjectSize(objectSize) }
            guard alignment >= 1, alignment & (alignment - 1) == 0, alignment <= slabSize else {
                throw .invalidAlignment(alignment)
            }
            guard slabSize >= systemPageSize, slabSize & (slabSize - 1) == 0 else {
                throw .invalidSlabSize(slabSize)
            }
            guard objectsPerSlab >= 1 else {
                throw .objectTooLargeForSlab(objectStride: objectStride, slabSize: slabSize)
            }
            guard objectsPerSlab < Int(Int32.max) else { throw .invalidSlabSize(slabSize) }
            guard reservedBytes >= slabSize, reservedBytes / slabSize < Int(Int32.max) else {
                throw .invalidReservation(reservedBytes)
            }
            guard circulation >= 0 else { throw .invalidSetting("circulation \(circulation) is negative") }
            guard emptySlabsKept >= 0 else { throw .invalidSetting("emptySlabsKept \(emptySlabsKept) is negative") }
            guard shrinkFillRatio >= 0, shrinkFillRatio <= 1 else {
                throw .invalidSetting("shrinkFillRatio \(shrinkFillRatio) is outside 0...1")
            }
            guard threadCacheCapacity >= 0, threadCacheCapacity <= 4096 else {
                throw .invalidSetting("threadCacheCapacity \(threadCacheCapacity) is outside 0...4096")
            }
        }
    }

    /// What the cache's owner does for reclaim and mobility. All optional.
    public struct Callbacks: Sendable {
        /// Reclaim won CAS 1 -> 0 on this object: unpublish it. The allocator
        /// frees the slot when this returns.
        public var destructor: (@Sendable (UnsafeMutableRawPointer) -> Void)?
        /// Asked before reclaim tries an unused object; returning false keeps
        /// it this pass (a referenced bit's second chance).
        public var shouldReclaim: (@Sendable (UnsafeMutableRawPointer) -> Bool)?
        /// Lets vacate and shrink empty slabs whose objects are in use.
        public var mobility: Mobility?

        public init(destructor: (@Sendable (UnsafeMutableRawPointer) -> Void)? = nil,
                    shouldReclaim: (@Sendable (UnsafeMutableRawPointer) -> Bool)? = nil,
                    mobility: Mobility? = nil) {
            self.destructor = destructor
            self.shouldReclaim = shouldReclaim
            self.mobility = mobility
        }
    }

    /// kmem_cache_ops get/kick (Lameter's slab defragmentation, 2007), isolate/migrate (LSFMM 2017).
    public struct Mobility: Sendable {
        /// Take a stable reference to a live object so it is neither freed
        /// nor changed until `kick` returns. Return false if the object is
        /// already being freed (count 0); it is then skipped.
        public var get: @Sendable (UnsafeMutableRawPointer) -> Bool
        /// Make the object leave its slot, dropping the reference `get` took
        /// in every outcome. `destination`, when given, is a free slot (count
        /// 0) in a fuller slab: to move, copy the object there, publish the
        /// new address and return `.moved`. `.freed` means the object was
        /// unpublished and its slot may be reused. On `.refused` and `.freed`
        /// the destination must be left untouched (count 0).
        public var kick: @Sendable (_ object: UnsafeMutableRawPointer,
                                    _ destination: UnsafeMutableRawPointer?) -> KickOutcome

        public init(get: @escaping @Sendable (UnsafeMutableRawPointer) -> Bool,
                    kick: @escaping @Sendable (UnsafeMutableRawPointer, UnsafeMutableRawPointer?) -> KickOutcome) {
            self.get = get
            self.kick = kick
        }
    }

    public enum KickOutcome: Sendable, Equatable {
        case moved
        case freed
        case refused
    }
}
