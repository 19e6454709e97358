import CSlabSupport
import Glibc
import SystemPackage

/// A Linux file handle: what `name_to_handle_at` returns and
/// `open_by_handle_at` opens again. It names an inode, not a path, so it
/// stays valid across renames, and unlike a descriptor it costs no entry in
/// the descriptor table (the limit here is 20,000). It goes stale (ESTALE)
/// once the inode is deleted.
///
/// A cache stores `type` and the `bytes` it needs (8 on ext4, 12 to 20 on
/// most others) and rebuilds the handle with `init?(type:bytes:)`. Handles
/// are made and opened through `BackingDirectory`, which holds the mount
/// descriptor `open_by_handle_at` needs and checks the entry is on its mount.
public struct BackingHandle: Hashable, Sendable {
    /// The filesystem's encoding of the handle (`handle_type`), opaque to us.
    public let type: Int32
    /// The handle itself (`f_handle`), opaque to us.
    public let bytes: HandleBytes

    public init(type: Int32, bytes: HandleBytes) {
        self.type = type
        self.bytes = bytes
    }

    /// Rebuilds a handle from stored bytes; nil if there are more than 128.
    public init?(type: Int32, bytes: some Collection<UInt8>) {
        guard let bytes = HandleBytes(bytes) else { return nil }
        self.init(type: type, bytes: bytes)
    }
}

/// Up to 128 bytes (MAX_HANDLE_SZ) kept inline, so a handle is a plain value
/// that never touches the heap.
public struct HandleBytes: RandomAccessCollection, Hashable, Sendable {
    public static let capacity = Int(LINUX_MAX_HANDLE_SZ)

    private typealias Storage = (
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
    )
    private var storage: Storage = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    private var length: UInt8 = 0

    /// nil if `bytes` holds more than `capacity` bytes.
    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count <= Self.capacity else { return nil }
        length = UInt8(bytes.count)
        withUnsafeMutableBytes(of: &storage) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { Int(length) }

    public subscript(position: Int) -> UInt8 {
        precondition(position >= 0 && position < Int(length), "HandleBytes index out of range")
        return Swift.withUnsafeBytes(of: storage) { $0[position] }
    }

    /// Calls `body` with the `count` bytes in place.
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try Swift.withUnsafeBytes(of: storage) { (raw) throws(Failure) -> Result in
            try body(UnsafeRawBufferPointer(rebasing: raw[..<Int(length)]))
        }
    }

    public static func == (lhs: HandleBytes, rhs: HandleBytes) -> Bool {
        lhs.withUnsafeBytes { left in rhs.withUnsafeBytes { right in left.elementsEqual(right) } }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

// MARK: - The system calls

/// `struct file_handle { unsigned int handle_bytes; int handle_type;
/// unsigned char f_handle[]; }`: a flexible array member, so it is built in
/// raw memory of the largest size rather than imported.
private enum FileHandleLayout {
    static let bytesOffset = 0
    static let typeOffset = 4
    static let handleOffset = 8
    static let size = handleOffset + Int(LINUX_MAX_HANDLE_SZ)
}

extension BackingHandle {
    /// `name_to_handle_at(directory, name, ...)`, or of `directory` itself
    /// (AT_EMPTY_PATH) when `name` is nil. A final symlink is not followed:
    /// that is the call's default (it has AT_SYMLINK_FOLLOW, and rejects
    /// AT_SYMLINK_NOFOLLOW with EINVAL). EOPNOTSUPP: the filesystem has no
    /// handles.
    static func make(
        of name: BackingName?, in directory: FileDescriptor
    ) throws(Errno) -> (handle: BackingHandle, mountID: CInt) {
        let call = linux_name_to_handle_at
        return try withUnsafeTemporaryAllocation(
            byteCount: FileHandleLayout.size, alignment: 8
        ) { (raw) throws(Errno) -> (handle: BackingHandle, mountID: CInt) in
            let base = raw.baseAddress!
            base.storeBytes(
                of: UInt32(Int(LINUX_MAX_HANDLE_SZ)), toByteOffset: FileHandleLayout.bytesOffset,
                as: UInt32.self)
            var mountID: CInt = 0
            if let name {
                _ = try name.withCString { (path) throws(Errno) in
                    try systemCall { call(directory.rawValue, path, base, &mountID, 0) }
                }
            } else {
                _ = try systemCall {
                    call(directory.rawValue, "", base, &mountID, LINUX_AT_EMPTY_PATH)
                }
            }
            let count = Int(base.load(fromByteOffset: FileHandleLayout.bytesOffset, as: UInt32.self))
            let type = base.load(fromByteOffset: FileHandleLayout.typeOffset, as: Int32.self)
            let bytes = UnsafeRawBufferPointer(start: base + FileHandleLayout.handleOffset, count: count)
            // The kernel never writes more than MAX_HANDLE_SZ, which is the capacity.
            return (BackingHandle(type: type, bytes: HandleBytes(bytes)!), mountID)
        }
    }

    /// `open_by_handle_at(mount, handle, flags)`. Needs CAP_DAC_READ_SEARCH,
    /// which a thread loses while its fsuid is not 0 (see Credentials).
    func open(mount: FileDescriptor, flags: CInt) throws(Errno) -> FileDescriptor {
        let call = linux_open_by_handle_at
        return try withUnsafeTemporaryAllocation(
            byteCount: FileHandleLayout.size, alignment: 8
        ) { (raw) throws(Errno) -> FileDescriptor in
            let base = raw.baseAddress!
            base.storeBytes(
                of: UInt32(bytes.count), toByteOffset: FileHandleLayout.bytesOffset, as: UInt32.self)
            base.storeBytes(of: type, toByteOffset: FileHandleLayout.typeOffset, as: Int32.self)
            bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(
                    start: base + FileHandleLayout.handleOffset, count: source.count
                ).copyMemory(from: source)
            }
            let fd = try systemCall { call(mount.rawValue, base, flags | O_CLOEXEC) }
            return FileDescriptor(rawValue: fd)
        }
    }
}
