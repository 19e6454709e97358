import Glibc
import SystemPackage

// Swift's Glibc module is built without _GNU_SOURCE, so every Linux-only
// declaration is missing from it: name_to_handle_at, open_by_handle_at,
// renameat2, copy_file_range, fallocate, getdents64, setfsuid/setfsgid, the
// xattr calls, O_PATH, AT_EMPTY_PATH, UTIME_NOW, SEEK_DATA and the SYS_*
// numbers. `syscall` is there but variadic, which Swift refuses to call.
//
// We may not add a C target, so the functions are found once with dlsym and
// called through pointers typed with their exact C prototypes: glibc exports
// every one of them as an ordinary (non-variadic) function, so this is the
// same call a C program makes. `syscall` itself is called through a fixed
// three-argument prototype; on x86_64 and arm64 Linux integer arguments to a
// variadic function travel in the same registers, and glibc's `syscall` is an
// assembly stub that only moves registers, so that is sound there too.
//
// The constants are the kernel's ABI (include/uapi), identical on x86_64 and
// arm64, the only architectures this file is written for.

#if !(arch(x86_64) || arch(arm64))
#error("LinuxCalls: constants and system call numbers are for x86_64 and arm64 only")
#endif

enum LinuxConstants {
    static let O_PATH: CInt = 0o10_000_000
    static let O_NOATIME: CInt = 0o1_000_000
    static let AT_EMPTY_PATH: CInt = 0x1000
    static let AT_SYMLINK_FOLLOW: CInt = 0x400
    static let MAX_HANDLE_SZ = 128
    static let RENAME_NOREPLACE: CUnsignedInt = 1
    static let RENAME_EXCHANGE: CUnsignedInt = 2
    static let RENAME_WHITEOUT: CUnsignedInt = 4
    static let FALLOC_FL_KEEP_SIZE: CInt = 0x01
    static let FALLOC_FL_PUNCH_HOLE: CInt = 0x02
    static let FALLOC_FL_COLLAPSE_RANGE: CInt = 0x08
    static let FALLOC_FL_ZERO_RANGE: CInt = 0x10
    static let FALLOC_FL_INSERT_RANGE: CInt = 0x20
    static let FALLOC_FL_UNSHARE_RANGE: CInt = 0x40
    static let SEEK_DATA: CInt = 3
    static let SEEK_HOLE: CInt = 4
    static let UTIME_NOW = (1 << 30) - 1
    static let UTIME_OMIT = (1 << 30) - 2
    static let XATTR_CREATE: CInt = 1
    static let XATTR_REPLACE: CInt = 2
    #if arch(x86_64)
    static let SYS_setgroups: CLong = 116
    #else
    static let SYS_setgroups: CLong = 159
    #endif
}

/// The glibc functions the Glibc module hides, resolved once.
///
/// A missing symbol (an older glibc) leaves its field nil and the wrapper
/// throws ENOSYS instead of crashing the daemon.
struct LinuxCalls: Sendable {
    typealias NameToHandleAt = @convention(c) (
        CInt, UnsafePointer<CChar>, UnsafeMutableRawPointer, UnsafeMutablePointer<CInt>, CInt
    ) -> CInt
    typealias OpenByHandleAt = @convention(c) (CInt, UnsafeMutableRawPointer, CInt) -> CInt
    typealias RenameAt2 = @convention(c) (
        CInt, UnsafePointer<CChar>, CInt, UnsafePointer<CChar>, CUnsignedInt
    ) -> CInt
    typealias CopyFileRange = @convention(c) (
        CInt, UnsafeMutablePointer<Int64>?, CInt, UnsafeMutablePointer<Int64>?, Int, CUnsignedInt
    ) -> Int
    typealias Fallocate = @convention(c) (CInt, CInt, Int64, Int64) -> CInt
    typealias GetDents64 = @convention(c) (CInt, UnsafeMutableRawPointer, Int) -> Int
    typealias SetFSID = @convention(c) (UInt32) -> CInt
    typealias Syscall2 = @convention(c) (CLong, CLong, CLong) -> CLong
    typealias FGetXattr = @convention(c) (CInt, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    typealias FSetXattr = @convention(c) (CInt, UnsafePointer<CChar>, UnsafeRawPointer?, Int, CInt) -> CInt
    typealias FListXattr = @convention(c) (CInt, UnsafeMutablePointer<CChar>?, Int) -> Int
    typealias FRemoveXattr = @convention(c) (CInt, UnsafePointer<CChar>) -> CInt
    typealias GetXattr = @convention(c) (
        UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int
    ) -> Int
    typealias SetXattr = @convention(c) (
        UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer?, Int, CInt
    ) -> CInt
    typealias ListXattr = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>?, Int) -> Int
    typealias RemoveXattr = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>) -> CInt

    let nameToHandleAt: NameToHandleAt?
    let openByHandleAt: OpenByHandleAt?
    let renameat2: RenameAt2?
    let copyFileRange: CopyFileRange?
    let fallocate: Fallocate?
    let getdents64: GetDents64?
    let setfsuid: SetFSID?
    let setfsgid: SetFSID?
    /// `syscall(number, a, b)`; only SYS_setgroups goes through it.
    let syscall2: Syscall2?
    let fgetxattr: FGetXattr?
    let fsetxattr: FSetXattr?
    let flistxattr: FListXattr?
    let fremovexattr: FRemoveXattr?
    // The path forms follow the last link: they are only ever given a
    // /proc/self/fd/N path, where following is what reaches the file.
    let getxattr: GetXattr?
    let setxattr: SetXattr?
    let listxattr: ListXattr?
    let removexattr: RemoveXattr?

    /// Resolved on first use; Swift runs a global's initialiser exactly once.
    static let shared = LinuxCalls()

    private init() {
        func resolve<F>(_ name: String, as _: F.Type) -> F? {
            // dlsym(RTLD_DEFAULT, ...): RTLD_DEFAULT is the null handle.
            guard let symbol = dlsym(nil, name) else { return nil }
            return unsafeBitCast(symbol, to: F.self)
        }
        nameToHandleAt = resolve("name_to_handle_at", as: NameToHandleAt.self)
        openByHandleAt = resolve("open_by_handle_at", as: OpenByHandleAt.self)
        renameat2 = resolve("renameat2", as: RenameAt2.self)
        copyFileRange = resolve("copy_file_range", as: CopyFileRange.self)
        fallocate = resolve("fallocate", as: Fallocate.self)
        getdents64 = resolve("getdents64", as: GetDents64.self)
        setfsuid = resolve("setfsuid", as: SetFSID.self)
        setfsgid = resolve("setfsgid", as: SetFSID.self)
        syscall2 = resolve("syscall", as: Syscall2.self)
        fgetxattr = resolve("fgetxattr", as: FGetXattr.self)
        fsetxattr = resolve("fsetxattr", as: FSetXattr.self)
        flistxattr = resolve("flistxattr", as: FListXattr.self)
        fremovexattr = resolve("fremovexattr", as: FRemoveXattr.self)
        getxattr = resolve("getxattr", as: GetXattr.self)
        setxattr = resolve("setxattr", as: SetXattr.self)
        listxattr = resolve("listxattr", as: ListXattr.self)
        removexattr = resolve("removexattr", as: RemoveXattr.self)
    }
}

extension LinuxCalls {
    /// The function at `path`, or ENOSYS when this glibc does not have it.
    @inline(__always)
    static func function<Function>(_ path: KeyPath<LinuxCalls, Function?>) throws(Errno) -> Function {
        guard let function = shared[keyPath: path] else { throw Errno.noFunction }
        return function
    }
}
