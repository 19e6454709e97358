import CSlabSupport
import Glibc

/// A range of virtual memory reserved once and kept mapped until deinit.
/// A class, not a noncopyable struct: TSan's instrumentation of borrows of a
/// noncopyable field reports phantom writes at the address it holds.
/// Pages are committed by touching them and handed back with MADV_DONTNEED,
/// which drops them from RSS at once (MADV_FREE would not, seen on this
/// machine) and makes them read as zeros afterwards.
final class PageRegion: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) throws(SlabError) {
        let pages = (byteCount + systemPageSize - 1) / systemPageSize
        let length = pages * systemPageSize
        // NORESERVE: only touched pages count against memory; the reservation
        // itself is address space.
        let address = mmap(nil, length, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let address, address != MAP_FAILED else { throw .mapFailed(errno: errno) }
        self.base = address
        self.byteCount = length
    }

    /// Gives the pages back to the kernel; they read as zeros afterwards.
    func release(offset: Int, length: Int) {
        precondition(offset >= 0 && length >= 0 && offset + length <= byteCount,
                     "PageRegion.release: range outside the region")
        // Failure would leave RSS high but memory intact; nothing to undo.
        _ = madvise(base + offset, length, MADV_DONTNEED)
    }

    deinit {
        munmap(base, byteCount)
    }
}

/// Reads this process's resident set size from /proc/self/statm.
public enum ProcessMemory {
    /// Caps glibc's malloc arenas (its default is 8 per core, one per thread
    /// that allocates while another holds an arena). Call before starting
    /// threads. Returns whether glibc accepted it.
    @discardableResult
    public static func limitMallocArenas(_ count: Int) -> Bool {
        slab_set_malloc_arena_max(Int32(count)) == 1
    }

    public static func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return 0 }
        let fields = String(decoding: buffer[0..<count], as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * systemPageSize
    }
}
