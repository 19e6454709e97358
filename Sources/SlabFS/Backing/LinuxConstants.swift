import CSlabSupport

// Swift's Glibc module is built without _GNU_SOURCE, so every Linux-only
// declaration is missing from it. CSlabSupport's linux_calls.h declares the
// functions (linux_name_to_handle_at, linux_renameat2, the xattr calls, a
// per-thread setgroups, ...) and the constants, checked there against
// glibc's own definitions; this names the constants for Swift callers.

enum LinuxConstants {
    static let O_PATH: CInt = LINUX_O_PATH
    static let O_NOATIME: CInt = LINUX_O_NOATIME
    static let AT_EMPTY_PATH: CInt = LINUX_AT_EMPTY_PATH
    static let AT_SYMLINK_FOLLOW: CInt = LINUX_AT_SYMLINK_FOLLOW
    static let MAX_HANDLE_SZ = Int(LINUX_MAX_HANDLE_SZ)
    static let RENAME_NOREPLACE = CUnsignedInt(LINUX_RENAME_NOREPLACE)
    static let RENAME_EXCHANGE = CUnsignedInt(LINUX_RENAME_EXCHANGE)
    static let RENAME_WHITEOUT = CUnsignedInt(LINUX_RENAME_WHITEOUT)
    static let FALLOC_FL_KEEP_SIZE: CInt = LINUX_FALLOC_FL_KEEP_SIZE
    static let FALLOC_FL_PUNCH_HOLE: CInt = LINUX_FALLOC_FL_PUNCH_HOLE
    static let FALLOC_FL_COLLAPSE_RANGE: CInt = LINUX_FALLOC_FL_COLLAPSE_RANGE
    static let FALLOC_FL_ZERO_RANGE: CInt = LINUX_FALLOC_FL_ZERO_RANGE
    static let FALLOC_FL_INSERT_RANGE: CInt = LINUX_FALLOC_FL_INSERT_RANGE
    static let FALLOC_FL_UNSHARE_RANGE: CInt = LINUX_FALLOC_FL_UNSHARE_RANGE
    static let SEEK_DATA: CInt = LINUX_SEEK_DATA
    static let SEEK_HOLE: CInt = LINUX_SEEK_HOLE
    static let UTIME_NOW = Int(LINUX_UTIME_NOW)
    static let UTIME_OMIT = Int(LINUX_UTIME_OMIT)
    static let XATTR_CREATE: CInt = LINUX_XATTR_CREATE
    static let XATTR_REPLACE: CInt = LINUX_XATTR_REPLACE
}
