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

/// An object named in 32 bits: its number in its slab cache's region
/// (slab * objects per slab + slot), plus one so that 0 means none. Table
/// slots hold these instead of 8-byte addresses. A default region (16 GiB)
/// numbers 176 M inodes in 28 bits, leaving 4 for a hash tag in the
/// identity table's slots (3 in the dentry table's).
struct ObjectIndexer: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let slabShift: Int
    let objectsPerSlab: Int
    let objectStride: Int
    /// Bits a number needs: the rest of a 32-bit slot is free for a tag.
    let bits: Int

    init(_ cache: SlabCache) throws(DCacheError) {
        base = cache.regionBase
        slabShift = cache.configuration.slabSize.trailingZeroBitCount
        objectsPerSlab = cache.configuration.objectsPerSlab
        objectStride = cache.configuration.objectStride
        let numbers = (cache.regionBytes >> slabShift) * objectsPerSlab + 1
        bits = Int.bitWidth - numbers.leadingZeroBitCount
        guard bits <= 32 else {
            throw .invalidConfiguration("\(cache.configuration.name): \(cache.regionBytes) reserved bytes hold more objects than 32 bits number")
        }
    }

    @inline(__always)
    func index(_ object: UnsafeMutableRawPointer) -> UInt32 {
        let offset = object - base
        let slot = (offset & ((1 << slabShift) - 1)) / objectStride
        return UInt32(truncatingIfNeeded: (offset >> slabShift) * objectsPerSlab + slot + 1)
    }

    @inline(__always)
    func object(_ index: UInt32) -> UnsafeMutableRawPointer? {
        guard index != 0 else { return nil }
        let (slab, slot) = Int(index - 1).quotientAndRemainder(dividingBy: objectsPerSlab)
        return base + (slab << slabShift) + slot * objectStride
    }
}
