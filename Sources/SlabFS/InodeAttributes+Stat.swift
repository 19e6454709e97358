import DCache
import Glibc

// The cache keeps attributes in its own compact form (InodeAttributes,
// inside a 128-byte inode object); FUSE replies carry a struct stat.

extension InodeAttributes {
    init(_ status: stat) {
        self.init()
        mode = status.st_mode
        nlink = UInt32(truncatingIfNeeded: status.st_nlink)
        uid = status.st_uid
        gid = status.st_gid
        rdev = Self.compactDevice(UInt64(status.st_rdev))
        size = UInt64(bitPattern: Int64(status.st_size))
        blocks = UInt64(bitPattern: Int64(status.st_blocks))
        atime = Self.nanoseconds(status.st_atim)
        mtime = Self.nanoseconds(status.st_mtim)
        ctime = Self.nanoseconds(status.st_ctim)
    }

    /// The stat a reply carries: `inode` is the backing inode number, what
    /// `ls -i` shows (the kernel takes the node id from the entry, not here).
    func stat(inode: UInt64) -> Glibc.stat {
        var status = Glibc.stat()
        status.st_ino = ino_t(inode)
        status.st_mode = mode
        status.st_nlink = nlink_t(nlink)
        status.st_uid = uid
        status.st_gid = gid
        status.st_rdev = dev_t(Self.expandDevice(rdev))
        status.st_size = off_t(Int64(bitPattern: size))
        status.st_blocks = blkcnt_t(Int64(bitPattern: blocks))
        // Not kept in the cache; the kernel only uses it for st_blksize.
        status.st_blksize = 4096
        status.st_atim = Self.timespec(atime)
        status.st_mtim = Self.timespec(mtime)
        status.st_ctim = Self.timespec(ctime)
        return status
    }

    static func nanoseconds(_ time: timespec) -> Int64 {
        Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec)
    }

    static func timespec(_ nanoseconds: Int64) -> Glibc.timespec {
        // Floor division, so times before 1970 keep 0 <= tv_nsec < 1e9.
        var seconds = nanoseconds / 1_000_000_000
        var rest = nanoseconds % 1_000_000_000
        if rest < 0 {
            seconds -= 1
            rest += 1_000_000_000
        }
        return Glibc.timespec(tv_sec: Int(seconds), tv_nsec: Int(rest))
    }

    /// glibc's 64-bit dev_t in the old 32-bit encoding (major < 4096,
    /// minor < 2^20, which covers every device Linux hands out).
    static func compactDevice(_ device: UInt64) -> UInt32 {
        let major = (device >> 8) & 0xfff | (device >> 32) & 0xffff_f000
        let minor = device & 0xff | (device >> 12) & 0xffff_ff00
        return UInt32(truncatingIfNeeded: (minor & 0xff) | (major & 0xfff) << 8 | (minor & 0xfff00) << 12)
    }

    static func expandDevice(_ device: UInt32) -> UInt64 {
        let value = UInt64(device)
        let major = (value >> 8) & 0xfff
        let minor = value & 0xff | (value >> 12) & 0xfff00
        return (major & 0xfff) << 8 | (minor & 0xff) | (minor & 0xffff_ff00) << 12
    }
}
