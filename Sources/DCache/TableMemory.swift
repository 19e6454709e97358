import Glibc
import Slab

/// Zeroed memory for the lookup tables. A page or more comes straight from
/// mmap and goes back with munmap: tables grow by replacing their arrays,
/// and through malloc every replaced array would stay behind as a hole in
/// the heap (in the arena of whichever thread grew it), about doubling what
/// the tables cost in RSS. Fresh mapped pages are zero without being
/// touched, so a sparse array costs only the pages in use.
enum TableMemory {
    static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        if bytes >= systemPageSize {
            let address = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
            guard let address, address != MAP_FAILED else { fatalError("DCache: cannot map \(bytes) bytes of table") }
            return address
        }
        guard let memory = calloc(1, bytes) else { fatalError("DCache: cannot allocate \(bytes) bytes of table") }
        return memory
    }

    static func deallocate(_ memory: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= systemPageSize { munmap(memory, bytes) } else { free(memory) }
    }
}

/// An object's address in 32 bits: its 16-byte granule in its slab cache's
/// reserved region, plus one so that 0 means none. Table slots hold these
/// instead of 8-byte addresses.
struct ObjectIndexer: @unchecked Sendable {
    let base: UnsafeMutableRawPointer

    init(_ cache: SlabCache) {
        precondition(UInt(bitPattern: cache.regionBase) % 16 == 0 && cache.configuration.objectSize % 16 == 0
                     && cache.regionBytes / 16 < Int(UInt32.max),
                     "DCache: objects must be 16-byte aligned in a region under 64 GiB")
        base = cache.regionBase
    }

    @inline(__always)
    func index(_ object: UnsafeMutableRawPointer) -> UInt32 { UInt32(truncatingIfNeeded: (object - base) >> 4) &+ 1 }

    @inline(__always)
    func object(_ index: UInt32) -> UnsafeMutableRawPointer? {
        index == 0 ? nil : base + (Int(index - 1) << 4)
    }
}
