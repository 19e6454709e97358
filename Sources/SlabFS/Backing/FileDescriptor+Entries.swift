import CSlabSupport
import Glibc
import SystemPackage

// Directory entries: each call names one entry of this directory descriptor
// (O_PATH is enough) and never follows a symlink.

/// Flags of renameat2(2).
public struct RenameFlags: OptionSet, Sendable, Hashable {
    public let rawValue: CUnsignedInt
    public init(rawValue: CUnsignedInt) { self.rawValue = rawValue }

    /// RENAME_NOREPLACE: fail with EEXIST rather than replace the target.
    public static var noReplace: Self { .init(rawValue: CUnsignedInt(LINUX_RENAME_NOREPLACE)) }
    /// RENAME_EXCHANGE: swap source and target atomically; both must exist.
    public static var exchange: Self { .init(rawValue: CUnsignedInt(LINUX_RENAME_EXCHANGE)) }
    /// RENAME_WHITEOUT: leave an overlayfs whiteout at the source (root only).
    public static var whiteout: Self { .init(rawValue: CUnsignedInt(LINUX_RENAME_WHITEOUT)) }
}

extension DeviceID {
    /// The device number glibc's makedev(3) builds (not exported to Swift).
    public init(major: UInt32, minor: UInt32) {
        let major = UInt64(major), minor = UInt64(minor)
        let value = (major & 0xfff) << 8 | (major & 0xffff_f000) << 32
            | (minor & 0xff) | (minor & 0xffff_ff00) << 12
        self.init(rawValue: CInterop.DeviceID(value))
    }

    public var major: UInt32 {
        let value = UInt64(rawValue)
        return UInt32(truncatingIfNeeded: (value >> 8) & 0xfff | (value >> 32) & 0xffff_f000)
    }

    public var minor: UInt32 {
        let value = UInt64(rawValue)
        return UInt32(truncatingIfNeeded: value & 0xff | (value >> 12) & 0xffff_ff00)
    }
}

extension FileDescriptor {
    /// Attributes of `name` in this directory, of the link itself if it is
    /// a symlink (`fstatat` with AT_SYMLINK_NOFOLLOW).
    public func stat(_ name: BackingName) throws(Errno) -> Stat {
        try name.withCString { (path) throws(Errno) in
            try Self.statAt(rawValue, path, flags: AT_SYMLINK_NOFOLLOW)
        }
    }

    /// Attributes of the file this descriptor refers to, O_PATH descriptors
    /// and symlinks included (`fstatat(fd, "", AT_EMPTY_PATH |
    /// AT_SYMLINK_NOFOLLOW)`, as passthrough_hp does).
    public func statDescriptor() throws(Errno) -> Stat {
        try Self.statAt(rawValue, "", flags: LINUX_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)
    }

    /// fstatat(2) straight from a C string: swift-system's Stat(_:relativeTo:)
    /// takes a FilePath and converts it on every call, a measurable part of
    /// a request.
    private static func statAt(_ directory: CInt, _ path: UnsafePointer<CChar>, flags: CInt) throws(Errno) -> Stat {
        var status = Glibc.stat()
        _ = try systemCall { fstatat(directory, path, &status, flags) }
        return Stat(rawValue: status)
    }

    /// `mkdirat`: creates directory `name` (mode less the umask).
    public func makeDirectory(_ name: BackingName, permissions: FilePermissions) throws(Errno) {
        _ = try name.withCString { (path) throws(Errno) in
            try systemCall { mkdirat(rawValue, path, permissions.rawValue) }
        }
    }

    /// `mknodat`: creates a FIFO, socket, character or block device, or
    /// regular file `name`; `mode` carries the type. Devices need CAP_MKNOD.
    public func makeNode(
        _ name: BackingName, mode: FileMode, device: DeviceID = DeviceID(rawValue: 0)
    ) throws(Errno) {
        _ = try name.withCString { (path) throws(Errno) in
            try systemCall { mknodat(rawValue, path, mode.rawValue, device.rawValue) }
        }
    }

    /// `symlinkat`: creates symlink `name` whose target is `target`, bytes
    /// stored as given (never resolved here). A NUL in it is EINVAL.
    public func makeSymbolicLink(_ name: BackingName, target: some Collection<UInt8>) throws(Errno) {
        if target.contains(0) { throw .invalidArgument }
        let cTarget = target.map { CChar(bitPattern: $0) } + [0]
        _ = try name.withCString { (path) throws(Errno) in
            try cTarget.withUnsafeBufferPointer { (targetPath) throws(Errno) in
                try systemCall { symlinkat(targetPath.baseAddress!, rawValue, path) }
            }
        }
    }

    /// `symlinkat` with a textual target.
    public func makeSymbolicLink(_ name: BackingName, target: String) throws(Errno) {
        try makeSymbolicLink(name, target: target.utf8)
    }

    /// `readlinkat`: the target of symlink `name`, as bytes. EINVAL: not a
    /// symlink.
    public func readLink(_ name: BackingName) throws(Errno) -> [UInt8] {
        try name.withCString { (path) throws(Errno) in try readLink(at: path) }
    }

    /// The target of the symlink this O_PATH descriptor refers to
    /// (`readlinkat(fd, "")`, which Linux allows for O_PATH descriptors).
    public func readLink() throws(Errno) -> [UInt8] {
        try readLink(at: "")
    }

    private func readLink(at path: UnsafePointer<CChar>) throws(Errno) -> [UInt8] {
        // PATH_MAX + 1: a full buffer means the target may have been cut.
        let capacity = Int(PATH_MAX) + 1
        return try withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) {
            (buffer) throws(Errno) -> [UInt8] in
            let count = try systemCall { readlinkat(rawValue, path, buffer.baseAddress!, capacity) }
            if count == capacity { throw .fileNameTooLong }
            return buffer[..<count].map { UInt8(bitPattern: $0) }
        }
    }

    /// `unlinkat`: removes non-directory `name`. EISDIR: it is a directory.
    public func remove(_ name: BackingName) throws(Errno) {
        _ = try name.withCString { (path) throws(Errno) in
            try systemCall { unlinkat(rawValue, path, 0) }
        }
    }

    /// `unlinkat(AT_REMOVEDIR)`: removes empty directory `name`.
    /// ENOTEMPTY: it has entries; ENOTDIR: it is not a directory.
    public func removeDirectory(_ name: BackingName) throws(Errno) {
        _ = try name.withCString { (path) throws(Errno) in
            try systemCall { unlinkat(rawValue, path, AT_REMOVEDIR) }
        }
    }

    /// `renameat2`: moves `name` here to `newName` in `newDirectory`.
    public func rename(
        _ name: BackingName, to newDirectory: FileDescriptor, as newName: BackingName,
        flags: RenameFlags = []
    ) throws(Errno) {
        let call = linux_renameat2
        _ = try name.withCString { (oldPath) throws(Errno) in
            try newName.withCString { (newPath) throws(Errno) in
                try systemCall { call(rawValue, oldPath, newDirectory.rawValue, newPath, flags.rawValue) }
            }
        }
    }

    /// `linkat`: a new hard link `newName` in `newDirectory` to `name` here;
    /// the link itself if `name` is a symlink.
    public func link(
        _ name: BackingName, to newDirectory: FileDescriptor, as newName: BackingName
    ) throws(Errno) {
        _ = try name.withCString { (oldPath) throws(Errno) in
            try newName.withCString { (newPath) throws(Errno) in
                try systemCall { linkat(rawValue, oldPath, newDirectory.rawValue, newPath, 0) }
            }
        }
    }

    /// A new hard link `newName` in `newDirectory` to the file this
    /// descriptor (O_PATH or not) refers to: FUSE's link, which names the
    /// source by inode.
    ///
    /// linkat(fd, "", AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH and fails
    /// with ENOENT without it, which a thread running with another fsuid
    /// lacks; then the link is made from "/proc/self/fd/N" with
    /// AT_SYMLINK_FOLLOW, passthrough_hp's way, which needs no capability.
    public func link(into newDirectory: FileDescriptor, as newName: BackingName) throws(Errno) {
        _ = try newName.withCString { (newPath) throws(Errno) in
            do throws(Errno) {
                return try systemCall {
                    linkat(rawValue, "", newDirectory.rawValue, newPath, LINUX_AT_EMPTY_PATH)
                }
            } catch .noSuchFileOrDirectory {
                return try withProcPath(of: self) { (procPath) throws(Errno) in
                    let follow = LINUX_AT_SYMLINK_FOLLOW
                    return try systemCall { linkat(AT_FDCWD, procPath, newDirectory.rawValue, newPath, follow) }
                }
            }
        }
    }
}
