import CSlabSupport
import CFuse
import Glibc
import SystemPackage

// The backing directory: how slabfs reaches the files it passes through.
//
// Every operation names at most one entry of one directory, as a directory
// descriptor plus a `BackingName` (one component: no "/", no "." or "..").
// The *at calls are made with AT_SYMLINK_NOFOLLOW or O_NOFOLLOW, so no call
// resolves a path, and none can follow a symlink out of the backing
// directory, whatever a user puts in it.
//
// Inodes are remembered without holding a descriptor each (the descriptor
// limit is 20,000 and cannot be raised): `lookup` returns a file handle
// (`name_to_handle_at`), which `open(_:_:options:)` turns back into a
// descriptor with `open_by_handle_at`, relative to `mount`, a descriptor on
// the backing filesystem's mount. Where the filesystem has no handles (or
// the entry is on another mount) `lookup` returns an O_PATH descriptor
// instead, as libfuse's passthrough_hp always does.
//
// An O_PATH descriptor can be stat'ed, used as a directory for the *at
// calls, chown'ed (fchownat with AT_EMPTY_PATH) and hard-linked, but not
// read, written, chmod'ed, truncated or asked for xattrs. For those the
// wrappers here go through "/proc/self/fd/N" (see `withProcPath`), the only
// route Linux has, and the one passthrough_hp takes.
//
// Per-request credentials (`Credentials`) switch the calling thread's fsuid,
// which drops CAP_DAC_READ_SEARCH: `open_by_handle_at` then fails with EPERM.
// Open what a request needs by handle before switching.
//
// Errors are swift-system's `Errno`, thrown as typed errors so a FUSE
// operation can reply with `error.rawValue`. EINTR is retried in one place
// (`systemCall`).

/// How a looked-up inode is found again (its identity, device and inode
/// number, is DCache's `BackingIdentity`).
public enum BackingLocator: Hashable {
    /// A file handle: no descriptor held. Open it with `BackingDirectory.open`.
    case handle(BackingHandle)
    /// An O_PATH descriptor, owned by whoever holds the locator: close it
    /// when the inode is forgotten.
    case descriptor(FileDescriptor)
}

/// The backing root and the mount descriptor file handles are opened against.
public struct BackingDirectory: Sendable {
    // Raw numbers, because swift-system does not make FileDescriptor
    // Sendable; the descriptors themselves are safe to share.
    private let rootDescriptor: CInt
    private let mountDescriptor: CInt
    /// The mount ID `name_to_handle_at` reports for the root; a handle made
    /// on another mount would not open against `mount`.
    private let mountID: CInt

    /// The backing root, O_PATH | O_DIRECTORY: the directory descriptor for
    /// entries at the top.
    public var root: FileDescriptor { FileDescriptor(rawValue: rootDescriptor) }
    /// The root again, O_RDONLY | O_DIRECTORY: `open_by_handle_at` rejects an
    /// O_PATH descriptor as its mount argument with EBADF.
    public var mount: FileDescriptor { FileDescriptor(rawValue: mountDescriptor) }
    /// The root's attributes when it was opened (st_dev tells which entries
    /// are on the backing filesystem).
    public let rootStat: Stat
    /// Whether the backing filesystem gives file handles. When false, lookups
    /// return O_PATH descriptors.
    public let supportsHandles: Bool
    /// Whether the backing filesystem may report an error only at close
    /// (network filesystems, and FUSE, which may be one): then FLUSH is
    /// passed on. Local filesystems report write errors at the write.
    public let reportsErrorsAtClose: Bool

    /// Opens the directory at `path`, which must be a directory (ENOTDIR).
    /// The path itself is resolved normally, once, here.
    public init(path: FilePath) throws(Errno) {
        let flags = O_DIRECTORY | O_CLOEXEC
        let root = try Self.openRoot(path, flags: flags | LINUX_O_PATH)
        let mount: CInt
        do throws(Errno) {
            mount = try systemCall { Glibc.openat(root, ".", flags | O_RDONLY) }
        } catch {
            try? FileDescriptor(rawValue: root).close()
            throw error
        }
        do throws(Errno) {
            rootStat = try FileDescriptor(rawValue: root).statDescriptor()
            reportsErrorsAtClose = Self.reportsErrorsAtClose(root)
            do throws(Errno) {
                mountID = try BackingHandle.make(of: nil, in: FileDescriptor(rawValue: root)).mountID
                supportsHandles = true
            } catch .notSupported {
                mountID = -1
                supportsHandles = false
            }
        } catch {
            try? FileDescriptor(rawValue: mount).close()
            try? FileDescriptor(rawValue: root).close()
            throw error
        }
        rootDescriptor = root
        mountDescriptor = mount
    }

    /// statfs(2) magic numbers of filesystems that can fail at close.
    private static let closeReportingFileSystems: Set<Int> = [
        0x6969,       // NFS
        0xFF53_4D42,  // CIFS
        0xFE53_4D42,  // SMB2
        0x517B,       // SMB
        0x6573_5546,  // FUSE
        0x00C3_6400,  // Ceph
        0x0102_1997,  // 9P
        0x0BD0_0BD0,  // Lustre
        0x4750_4653,  // GPFS
    ]

    private static func reportsErrorsAtClose(_ descriptor: CInt) -> Bool {
        var info = statfs()
        guard fstatfs(descriptor, &info) == 0 else { return true }  // unknown: keep FLUSH
        return closeReportingFileSystems.contains(Int(UInt32(truncatingIfNeeded: info.f_type)))
    }

    private static func openRoot(_ path: FilePath, flags: CInt) throws(Errno) -> CInt {
        // FilePath.withPlatformString rethrows untyped errors: carry the
        // typed one out in a Result.
        let result = path.withPlatformString { cPath in
            Result { () throws(Errno) -> CInt in try systemCall { Glibc.open(cPath, flags) } }
        }
        return try result.get()
    }

    /// Closes both descriptors. The value must not be used afterwards.
    public func close() {
        try? FileDescriptor(rawValue: mountDescriptor).close()
        try? FileDescriptor(rawValue: rootDescriptor).close()
    }

    // MARK: Handles

    /// The handle of the file `descriptor` refers to (any kind, O_PATH too).
    /// EOPNOTSUPP: no handles on its filesystem; EXDEV: it is not on the
    /// backing root's mount. Either way, keep an O_PATH descriptor instead.
    public func handle(of descriptor: FileDescriptor) throws(Errno) -> BackingHandle {
        try checked(BackingHandle.make(of: nil, in: descriptor))
    }

    /// The handle of `name` in `directory`, not following a symlink.
    /// Errors as `handle(of:)`, and ENOENT if there is no such entry.
    public func handle(of name: BackingName, in directory: FileDescriptor) throws(Errno) -> BackingHandle {
        try checked(BackingHandle.make(of: name, in: directory))
    }

    private func checked(_ made: (handle: BackingHandle, mountID: CInt)) throws(Errno) -> BackingHandle {
        guard supportsHandles else { throw .notSupported }
        guard made.mountID == mountID else { throw .improperLink }
        return made.handle
    }

    /// Opens the file `handle` names. `mode`/`options` as for open(2);
    /// `.path` gives an O_PATH descriptor. O_CREAT and O_EXCL are dropped: a
    /// handle names a file that exists. ESTALE: the file has been deleted.
    /// EPERM: the thread lacks CAP_DAC_READ_SEARCH (its fsuid is not 0).
    /// ELOOP: a symlink opened other than with `.path`.
    public func open(
        _ handle: BackingHandle, _ mode: FileDescriptor.AccessMode,
        options: FileDescriptor.OpenOptions = []
    ) throws(Errno) -> FileDescriptor {
        let options = options.subtracting([.create, .exclusiveCreate])
        return try handle.open(mount: mount, flags: mode.rawValue | options.rawValue)
    }

    // MARK: Identities

    /// Looks `name` up in `directory`: its attributes, and how to reach it
    /// again. Race-free: the attributes and the handle are taken from one
    /// O_PATH descriptor, so both describe the same inode even if the name
    /// is replaced meanwhile. A handle when there is one; otherwise the
    /// O_PATH descriptor, which the caller then owns.
    public func lookup(
        _ name: BackingName, in directory: FileDescriptor
    ) throws(Errno) -> (stat: Stat, locator: BackingLocator) {
        let descriptor = try directory.openPath(name)
        do throws(Errno) {
            let stat = try descriptor.statDescriptor()
            guard supportsHandles else { return (stat, .descriptor(descriptor)) }
            do throws(Errno) {
                let handle = try handle(of: descriptor)
                try? descriptor.close()
                return (stat, .handle(handle))
            } catch .notSupported {
                return (stat, .descriptor(descriptor))
            } catch .improperLink {
                return (stat, .descriptor(descriptor))
            }
        } catch {
            try? descriptor.close()
            throw error
        }
    }

    /// The identity of the backing root, for the FUSE root inode. An
    /// O_PATH descriptor identity is a new descriptor the caller owns.
    public func rootLocator() throws(Errno) -> BackingLocator {
        if supportsHandles { return .handle(try handle(of: root)) }
        return .descriptor(try root.duplicateDescriptor())
    }

    /// A new descriptor for `locator`, which the caller closes. From a
    /// descriptor locator: a duplicate for `.path`, otherwise a reopen
    /// through /proc/self/fd (see `FileDescriptor.reopen`).
    public func open(
        _ locator: BackingLocator, _ mode: FileDescriptor.AccessMode,
        options: FileDescriptor.OpenOptions = []
    ) throws(Errno) -> FileDescriptor {
        switch locator {
        case .handle(let handle):
            return try open(handle, mode, options: options)
        case .descriptor(let descriptor):
            if options.contains(.path) { return try descriptor.duplicateDescriptor() }
            return try descriptor.reopen(mode, options: options)
        }
    }

    /// Calls `body` with an O_PATH descriptor for `locator`: the locator's
    /// own, or one opened from the handle and closed afterwards. For the
    /// directory side of the *at calls, stat, chown and the like.
    public func withDescriptor<Result>(
        for locator: BackingLocator, _ body: (FileDescriptor) throws(Errno) -> Result
    ) throws(Errno) -> Result {
        switch locator {
        case .descriptor(let descriptor):
            return try body(descriptor)
        case .handle(let handle):
            let descriptor = try open(handle, .readOnly, options: .path)
            defer { try? descriptor.close() }
            return try body(descriptor)
        }
    }
}
