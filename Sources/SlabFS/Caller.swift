import CFuse
import Glibc
import SystemPackage

/// Who sent a request, and how to act as them.
///
/// With allow_other, operations that create, change or open backing files
/// run with the caller's fsuid, fsgid and supplementary groups
/// (`Credentials`, which switches the calling thread only), so that new
/// files are the caller's and the backing filesystem checks the caller's
/// permissions as well as the kernel does (default_permissions). Without
/// allow_other only the mounting user (root here) gets in, and everything
/// runs as the daemon.
///
/// A thread that is not fsuid 0 cannot open_by_handle_at (EPERM): open what
/// the operation needs by handle first, then `run` the calls on names.
struct Caller {
    /// nil: act as the daemon.
    let credentials: Credentials?

    var isDaemon: Bool { credentials == nil }

    init(credentials: Credentials?) {
        self.credentials = credentials
    }

    /// The caller of `request`, as far as `fileSystem` needs to act as them.
    init(_ request: fuse_req_t?, _ fileSystem: FileSystem) {
        guard fileSystem.runsAsCaller, let context = fuse_req_ctx(request)?.pointee else {
            self.init(credentials: nil)
            return
        }
        if context.uid == fileSystem.daemonUser && context.gid == fileSystem.daemonGroup {
            self.init(credentials: nil)
            return
        }
        let groups = Caller.groups(of: request).map { GroupID(rawValue: $0) }
        self.init(credentials: Credentials(user: UserID(rawValue: context.uid), group: GroupID(rawValue: context.gid),
                                           supplementaryGroups: groups))
    }

    /// fuse_req_getgroups reads them from /proc/PID/status: the caller's
    /// supplementary groups, or none if they cannot be read (then only the
    /// primary group counts, the safe side).
    private static func groups(of request: fuse_req_t?) -> [gid_t] {
        var capacity = 32
        while true {
            var list = [gid_t](repeating: 0, count: capacity)
            let count = Int(fuse_req_getgroups(request, Int32(capacity), &list))
            if count < 0 { return [] }
            if count <= capacity { return Array(list[..<count]) }
            capacity = count
        }
    }

    /// Runs `body` with the caller's credentials (or as the daemon).
    func run<R>(_ body: () throws(Errno) -> R) throws(Errno) -> R {
        guard let credentials else { return try body() }
        return try credentials.run(body)
    }
}
