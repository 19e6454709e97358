import CSlabSupport
import Glibc
import SystemPackage

/// One entry of a directory listing, as getdents64 gives it.
public struct DirectoryEntry: Hashable, Sendable {
    /// d_ino: the entry's inode number on the backing filesystem.
    public let inode: UInt64
    /// d_type: DT_REG, DT_DIR, ..., or DT_UNKNOWN (0) where the filesystem
    /// does not say; a stat then tells.
    public let rawType: UInt8
    /// d_off: the cookie of the position after this entry. FUSE readdir
    /// replies carry it as the entry's offset; `seek(to:)` resumes there.
    public let nextOffset: Int64
    /// The name's bytes and a NUL.
    let cName: [CChar]

    /// The name's bytes.
    public var name: [UInt8] { cName.dropLast().map { UInt8(bitPattern: $0) } }

    /// "." or "..": the listing includes them; the caller decides (FUSE's
    /// readdirplus must not count a lookup for them).
    public var isDotOrDotDot: Bool {
        let dot = CChar(UInt8(ascii: "."))
        return cName.count <= 3 && cName.dropLast().allSatisfy { $0 == dot }
    }

    /// The name to look the entry up with; nil for "." and "..".
    public var backingName: BackingName? {
        isDotOrDotDot ? nil : BackingName(unchecked: cName)
    }

    /// The file type from d_type (DT_* is the S_IF* type shifted right by
    /// 12); nil for DT_UNKNOWN.
    public var type: FileType? {
        rawType == 0 ? nil : FileType(rawValue: CInterop.Mode(rawType) << 12)
    }

    /// Calls `body` with the name as a C string, for fuse_add_direntry.
    public func withCString<Result, Failure: Error>(
        _ body: (UnsafePointer<CChar>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try cName.withUnsafeBufferPointer { (buffer) throws(Failure) -> Result in
            try body(buffer.baseAddress!)
        }
    }

    /// A copy of an entry read in place.
    init(_ entry: UnsafeDirectoryEntry) {
        inode = entry.inode
        rawType = entry.rawType
        nextOffset = entry.nextOffset
        cName = Array(UnsafeBufferPointer(start: entry.cName, count: entry.nameLength + 1))
    }
}

/// One entry of a directory listing read in place: its name is not copied
/// but points into the stream's buffer, as readdir(3)'s `struct dirent`
/// does. Valid only until the stream's next `next()`, `nextInPlace()` or
/// `seek(to:)`, and while the stream lives; copy it (`DirectoryEntry(_:)`,
/// `backingName`) to keep it longer. For a listing's hot loop, which sends
/// most names on without keeping them.
public struct UnsafeDirectoryEntry {
    /// d_ino.
    public let inode: UInt64
    /// d_type (see `DirectoryEntry.rawType`).
    public let rawType: UInt8
    /// d_off: the cookie of the position after this entry.
    public let nextOffset: Int64
    /// The name, NUL-terminated, in the stream's buffer.
    public let cName: UnsafePointer<CChar>
    /// The name's length in bytes, without the NUL.
    public let nameLength: Int

    /// The name's bytes, in the stream's buffer.
    public var nameBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: cName, count: nameLength) }

    /// "." or "..".
    public var isDotOrDotDot: Bool {
        let dot = CChar(UInt8(ascii: "."))
        return nameLength <= 2 && (nameLength < 1 || cName[0] == dot) && (nameLength < 2 || cName[1] == dot)
    }

    /// A copy of the name to look the entry up with; nil for "." and "..".
    public var backingName: BackingName? {
        isDotOrDotDot ? nil : BackingName(unchecked: Array(UnsafeBufferPointer(start: cName, count: nameLength + 1)))
    }
}

/// Reads a directory with getdents64 on a descriptor of its own, and seeks
/// by the entries' offset cookies, as FUSE's readdir offsets require.
///
/// Not thread-safe; the kernel already serialises readdir on one open
/// directory. A FUSE reply buffer that fills up mid-batch leads to a seek
/// back to an entry still buffered here, which costs no system call.
public final class DirectoryStream {
    /// The directory, open O_RDONLY | O_DIRECTORY; closed with the stream.
    /// For fsyncdir.
    public let descriptor: FileDescriptor
    /// The cookie of the next entry `next()` returns: 0 at the start.
    public private(set) var offset: Int64 = 0

    // getdents64 output: packed `struct linux_dirent64 { u64 d_ino; s64
    // d_off; u16 d_reclen; u8 d_type; char d_name[]; }` records.
    private static let bufferSize = 32 * 1024
    private let buffer: UnsafeMutableRawPointer
    /// Bytes of records in the buffer, and where the next one starts.
    private var filled = 0
    private var position = 0
    /// The cookie of the buffer's first record.
    private var bufferOffset: Int64 = 0

    /// Opens `directory` (an O_PATH descriptor is fine) again for reading,
    /// through openat(directory, "."), so this stream has a file position
    /// of its own. ENOTDIR: not a directory.
    public convenience init(_ directory: FileDescriptor) throws(Errno) {
        let flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC
        let fd = try systemCall { Glibc.openat(directory.rawValue, ".", flags) }
        self.init(adopting: FileDescriptor(rawValue: fd))
    }

    /// Takes ownership of `descriptor`, a directory open for reading (from a
    /// handle, say) and positioned at its start.
    public init(adopting descriptor: FileDescriptor) {
        self.descriptor = descriptor
        buffer = .allocate(byteCount: Self.bufferSize, alignment: 8)
    }

    deinit {
        buffer.deallocate()
        try? descriptor.close()
    }

    /// The next entry, or nil at the end of the directory.
    public func next() throws(Errno) -> DirectoryEntry? {
        try nextInPlace().map(DirectoryEntry.init)
    }

    /// The next entry without copying its name out of the buffer: valid
    /// until the next call to `next()`, `nextInPlace()` or `seek(to:)` (see
    /// `UnsafeDirectoryEntry`). Nil at the end of the directory.
    public func nextInPlace() throws(Errno) -> UnsafeDirectoryEntry? {
        if position == filled {
            let call = linux_getdents64
            let count = try systemCall { call(descriptor.rawValue, buffer, Self.bufferSize) }
            bufferOffset = offset
            filled = count
            position = 0
            if count == 0 { return nil }
        }
        let record = buffer + position
        let name = UnsafePointer((record + 19).assumingMemoryBound(to: CChar.self))
        let entry = UnsafeDirectoryEntry(
            inode: record.loadUnaligned(as: UInt64.self),
            rawType: record.load(fromByteOffset: 18, as: UInt8.self),
            nextOffset: record.loadUnaligned(fromByteOffset: 8, as: Int64.self),
            cName: name,
            nameLength: strlen(name))
        position += Int(record.load(fromByteOffset: 16, as: UInt16.self))
        offset = entry.nextOffset
        return entry
    }

    /// Continues the listing at `offset`: 0, or an entry's `nextOffset`.
    /// Within the buffered batch this only moves a cursor; otherwise it is
    /// an lseek on the directory (a cookie, which seekdir(3) also takes).
    public func seek(to offset: Int64) throws(Errno) {
        if offset == self.offset { return }
        var cursor = 0, cookie = bufferOffset
        while cursor <= filled {
            if cookie == offset {
                position = cursor
                self.offset = offset
                return
            }
            if cursor == filled { break }
            let record = buffer + cursor
            cookie = record.loadUnaligned(fromByteOffset: 8, as: Int64.self)
            cursor += Int(record.load(fromByteOffset: 16, as: UInt16.self))
        }
        _ = try systemCall { Glibc.lseek(descriptor.rawValue, off_t(offset), SEEK_SET) }
        filled = 0
        position = 0
        bufferOffset = offset
        self.offset = offset
    }
}
