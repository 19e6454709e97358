import CSlabSupport
import Glibc
import SystemPackage

extension FileDescriptor.OpenOptions {
    /// O_PATH: a descriptor that only locates the file. It can be stat'ed,
    /// chown'ed, linked and used as a directory for the *at calls; it does
    /// not open the file itself, so it works on symlinks and needs no read
    /// permission. Only `.directory`, `.noFollow` and `.closeOnExec` apply
    /// with it.
    public static var path: Self { .init(rawValue: LINUX_O_PATH) }

    /// O_NOATIME: reads do not update the access time (owner or root only).
    public static var noAccessTime: Self { .init(rawValue: LINUX_O_NOATIME) }
}

extension FileDescriptor {
    /// Opens `name` in this directory: `openat` with O_NOFOLLOW and
    /// O_CLOEXEC added. Honours the other options as open(2) does (O_CREAT,
    /// O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, ...); `permissions` is the
    /// mode of a file it creates (less the umask), ignored otherwise.
    ///
    /// ELOOP: `name` is a symlink (unless `.path` is given, which opens the
    /// link itself). EISDIR: a directory opened for writing. ENOTDIR: this
    /// descriptor is not a directory, or `.directory` and `name` is not one.
    public func open(
        _ name: BackingName, _ mode: AccessMode, options: OpenOptions = [],
        permissions: FilePermissions? = nil
    ) throws(Errno) -> FileDescriptor {
        let flags = mode.rawValue | options.rawValue | O_NOFOLLOW | O_CLOEXEC
        let fileMode = permissions?.rawValue ?? 0
        let fd = try name.withCString { (path) throws(Errno) in
            try systemCall { Glibc.openat(rawValue, path, flags, fileMode) }
        }
        return FileDescriptor(rawValue: fd)
    }

    /// An O_PATH descriptor for `name` in this directory, the link itself
    /// if it is a symlink: what a lookup keeps when it cannot keep a handle.
    public func openPath(_ name: BackingName) throws(Errno) -> FileDescriptor {
        try open(name, .readOnly, options: .path)
    }

    /// Opens the file this descriptor refers to again, for I/O: typically an
    /// O_PATH descriptor kept by a lookup, reopened for a FUSE open.
    ///
    /// It opens "/proc/self/fd/N" because Linux has no other way to turn an
    /// O_PATH descriptor into an open file: openat(fd, "") is ENOENT (openat
    /// takes no AT_EMPTY_PATH) and openat(fd, ".") works for directories
    /// only. The magic link leads to the inode itself, so a rename since the
    /// lookup does not matter. Permissions are checked as for any open,
    /// against the calling thread's fsuid.
    ///
    /// O_NOFOLLOW is dropped (the magic link itself would fail with ELOOP),
    /// and so are O_CREAT and O_EXCL (the file exists). A symlink gives
    /// ELOOP, a directory opened for writing EISDIR.
    public func reopen(_ mode: AccessMode, options: OpenOptions = []) throws(Errno) -> FileDescriptor {
        let options = options.subtracting([.noFollow, .create, .exclusiveCreate])
        let flags = mode.rawValue | options.rawValue | O_CLOEXEC
        let fd = try withProcPath(of: self) { (path) throws(Errno) in
            try systemCall { Glibc.open(path, flags) }
        }
        return FileDescriptor(rawValue: fd)
    }

    /// A new descriptor for the same open file (`F_DUPFD_CLOEXEC`).
    /// swift-system's `duplicate()` throws untyped errors and does not set
    /// close-on-exec.
    public func duplicateDescriptor() throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try systemCall { fcntl(rawValue, F_DUPFD_CLOEXEC, 0) })
    }
}
