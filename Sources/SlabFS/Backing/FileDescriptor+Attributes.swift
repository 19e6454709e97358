import CSlabSupport
import Glibc
import SystemPackage

// The pieces of FUSE's setattr, and statfs. Each works on an open file and
// on an O_PATH descriptor: where the f* call rejects O_PATH with EBADF, the
// path form is called on "/proc/self/fd/N" (see `withProcPath`).

/// One timestamp argument of utimensat(2).
public enum TimestampUpdate: Sendable, Hashable {
    /// UTIME_NOW: the current time.
    case now
    /// UTIME_OMIT: leave it as it is.
    case unchanged
    /// This time since the epoch.
    case to(seconds: Int, nanoseconds: Int)

    /// The time in `time` (a `st_atim` or `st_mtim`).
    public init(_ time: timespec) {
        self = .to(seconds: time.tv_sec, nanoseconds: time.tv_nsec)
    }

    var cValue: timespec {
        switch self {
        case .now: return Glibc.timespec(tv_sec: 0, tv_nsec: LINUX_UTIME_NOW)
        case .unchanged: return Glibc.timespec(tv_sec: 0, tv_nsec: LINUX_UTIME_OMIT)
        case .to(let seconds, let nanoseconds): return Glibc.timespec(tv_sec: seconds, tv_nsec: nanoseconds)
        }
    }
}

/// A Swift wrapper of the C `statvfs` struct, in the style of swift-system's
/// `Stat`. FUSE's statfs reply takes `rawValue`.
public struct FileSystemStatistics: RawRepresentable, Sendable {
    public var rawValue: statvfs
    public init(rawValue: statvfs) { self.rawValue = rawValue }

    /// f_bsize: the preferred I/O block size.
    public var blockSize: Int { Int(rawValue.f_bsize) }
    /// f_frsize: the unit `blockCount` and the free counts are in.
    public var fragmentSize: Int { Int(rawValue.f_frsize) }
    public var blockCount: UInt64 { UInt64(rawValue.f_blocks) }
    public var freeBlocks: UInt64 { UInt64(rawValue.f_bfree) }
    /// f_bavail: free blocks an unprivileged user may use.
    public var availableBlocks: UInt64 { UInt64(rawValue.f_bavail) }
    public var fileCount: UInt64 { UInt64(rawValue.f_files) }
    public var freeFiles: UInt64 { UInt64(rawValue.f_ffree) }
    public var maximumNameLength: Int { Int(rawValue.f_namemax) }
}

extension FileDescriptor {
    /// chmod: `fchmod`, or `chmod` on the /proc path for an O_PATH
    /// descriptor. Only the permission bits (with setuid, setgid, sticky)
    /// are used. Symlinks have no mode on Linux: EOPNOTSUPP.
    public func setPermissions(_ permissions: FilePermissions) throws(Errno) {
        let mode = permissions.rawValue & 0o7777
        do throws(Errno) {
            _ = try systemCall { fchmod(rawValue, mode) }
        } catch .badFileDescriptor {
            _ = try withProcPath(of: self) { (path) throws(Errno) in
                try systemCall { chmod(path, mode) }
            }
        }
    }

    /// lchown: `fchownat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)`,
    /// which takes O_PATH descriptors and changes a symlink itself. nil
    /// leaves that id unchanged.
    public func setOwner(user: UserID?, group: GroupID?) throws(Errno) {
        let uid = user?.rawValue ?? UInt32.max
        let gid = group?.rawValue ?? UInt32.max
        let flags = LINUX_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW
        _ = try systemCall { fchownat(rawValue, "", uid, gid, flags) }
    }

    /// Sets the file's size: `ftruncate` on a descriptor open for writing,
    /// `truncate` on the /proc path for an O_PATH descriptor (checked
    /// against the thread's fsuid as a truncate by name would be). EINVAL:
    /// a descriptor open read-only, a negative size, or not a regular file.
    public func truncate(to size: Int64) throws(Errno) {
        do throws(Errno) {
            _ = try systemCall { ftruncate(rawValue, off_t(size)) }
        } catch .badFileDescriptor {
            _ = try withProcPath(of: self) { (path) throws(Errno) in
                try systemCall { Glibc.truncate(path, off_t(size)) }
            }
        }
    }

    /// Sets access and modification times: `utimensat(fd, "",
    /// AT_EMPTY_PATH)`, which takes O_PATH descriptors and symlinks on
    /// recent kernels (this one); where the kernel rejects the empty path
    /// with EINVAL, `utimensat` on the /proc path, passthrough_hp's way.
    public func setTimes(access: TimestampUpdate, modification: TimestampUpdate) throws(Errno) {
        do throws(Errno) {
            try setTimes(access: access, modification: modification, throughProc: false)
        } catch .invalidArgument {
            try setTimes(access: access, modification: modification, throughProc: true)
        }
    }

    /// One of the two ways; separate so that tests reach the /proc one.
    func setTimes(
        access: TimestampUpdate, modification: TimestampUpdate, throughProc: Bool
    ) throws(Errno) {
        let times = [access.cValue, modification.cValue]
        try times.withUnsafeBufferPointer { (times) throws(Errno) in
            if throughProc {
                _ = try withProcPath(of: self) { (path) throws(Errno) in
                    try systemCall { utimensat(AT_FDCWD, path, times.baseAddress, 0) }
                }
            } else {
                let flags = LINUX_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW
                _ = try systemCall { utimensat(rawValue, "", times.baseAddress, flags) }
            }
        }
    }

    /// statfs: `fstatvfs` of the filesystem this descriptor (O_PATH too) is on.
    public func fileSystemStatistics() throws(Errno) -> FileSystemStatistics {
        var result = statvfs()
        _ = try systemCall { fstatvfs(rawValue, &result) }
        return FileSystemStatistics(rawValue: result)
    }
}
