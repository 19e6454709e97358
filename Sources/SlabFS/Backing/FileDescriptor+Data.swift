import CSlabSupport
import Glibc
import SystemPackage

// File contents: positioned I/O, sync, preallocation and holes, and copies
// inside the kernel. All need a descriptor opened for I/O, not O_PATH
// (EBADF).

/// Modes of fallocate(2).
public struct AllocationMode: OptionSet, Sendable, Hashable {
    public let rawValue: CInt
    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// FALLOC_FL_KEEP_SIZE: allocate past the end without changing the size.
    public static var keepSize: Self { .init(rawValue: LINUX_FALLOC_FL_KEEP_SIZE) }
    /// FALLOC_FL_PUNCH_HOLE: deallocate the range; must go with `keepSize`.
    public static var punchHole: Self { .init(rawValue: LINUX_FALLOC_FL_PUNCH_HOLE) }
    /// FALLOC_FL_COLLAPSE_RANGE: remove the range, shifting the rest down.
    public static var collapseRange: Self { .init(rawValue: LINUX_FALLOC_FL_COLLAPSE_RANGE) }
    /// FALLOC_FL_ZERO_RANGE: make the range read as zeros, allocated.
    public static var zeroRange: Self { .init(rawValue: LINUX_FALLOC_FL_ZERO_RANGE) }
    /// FALLOC_FL_INSERT_RANGE: insert a hole, shifting the rest up.
    public static var insertRange: Self { .init(rawValue: LINUX_FALLOC_FL_INSERT_RANGE) }
    /// FALLOC_FL_UNSHARE_RANGE: unshare blocks shared with reflinks.
    public static var unshareRange: Self { .init(rawValue: LINUX_FALLOC_FL_UNSHARE_RANGE) }
}

/// What `seek(toNext:from:)` looks for.
public enum SeekTarget: Sendable, Hashable {
    /// SEEK_DATA: the next offset holding data.
    case data
    /// SEEK_HOLE: the next hole (the end of the file counts as one).
    case hole

    var whence: CInt {
        switch self {
        case .data: return LINUX_SEEK_DATA
        case .hole: return LINUX_SEEK_HOLE
        }
    }
}

extension FileDescriptor {
    /// `pread`: reads up to `buffer.count` bytes at `offset`; 0 at the end.
    /// swift-system's `read(fromAbsoluteOffset:into:)` does the same with an
    /// untyped error.
    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try systemCall { Glibc.pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// `pwrite`: writes up to `buffer.count` bytes at `offset` (at the end
    /// if the descriptor was opened with O_APPEND, as Linux does).
    public func write(at offset: Int64, from buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try systemCall { Glibc.pwrite(rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// `fsync`, or `fdatasync` when `dataOnly` (FUSE's fsync and fsyncdir
    /// pass that as `datasync`).
    public func synchronize(dataOnly: Bool = false) throws(Errno) {
        if dataOnly {
            _ = try systemCall { fdatasync(rawValue) }
        } else {
            _ = try systemCall { fsync(rawValue) }
        }
    }

    /// `fallocate`. EOPNOTSUPP: the filesystem lacks that mode.
    public func allocate(offset: Int64, length: Int64, mode: AllocationMode = []) throws(Errno) {
        let call = linux_fallocate
        _ = try systemCall { call(rawValue, mode.rawValue, offset, length) }
    }

    /// `lseek` with SEEK_DATA or SEEK_HOLE from `offset`. ENXIO: no data at
    /// or after `offset`, or `offset` is past the end.
    public func seek(toNext target: SeekTarget, from offset: Int64) throws(Errno) -> Int64 {
        Int64(try systemCall { Glibc.lseek(rawValue, off_t(offset), target.whence) })
    }

    /// `copy_file_range`: copies up to `count` bytes at `offset` here to
    /// `targetOffset` in `target`, inside the kernel (a reflink where the
    /// filesystem can). Neither file position moves. Returns the bytes
    /// copied, fewer at the end of the source. EXDEV: across filesystems
    /// on kernels that refuse that.
    public func copyRange(
        from offset: Int64, to target: FileDescriptor, at targetOffset: Int64, count: Int
    ) throws(Errno) -> Int {
        let call = linux_copy_file_range
        var source = offset, destination = targetOffset
        return try systemCall { call(rawValue, &source, target.rawValue, &destination, count, 0) }
    }
}
