import CSlabSupport
import Glibc
import SystemPackage

/// The identity a FUSE request is served with: the caller's user, group and
/// supplementary groups, so that the backing filesystem checks permissions
/// and assigns owners as it would for the caller (`allow_other`).
///
/// The trap this type exists for: Linux keeps credentials per thread, but
/// POSIX wants them per process, so glibc's setgroups, setuid, setresuid,
/// setgid and friends signal every thread of the process and change all of
/// them. In a multithreaded FUSE daemon that would hand one caller's
/// identity to every other request in flight. The calls used here act on
/// the calling thread only:
/// - setfsuid / setfsgid: the ids used for filesystem access checks and for
///   the owner of new files; glibc does not broadcast them.
/// - the raw setgroups system call (`syscall(SYS_setgroups, ...)`), which
///   the kernel applies to the calling thread only.
///
/// Also: a thread whose fsuid is not 0 loses CAP_DAC_OVERRIDE, CAP_CHOWN,
/// CAP_FOWNER, CAP_DAC_READ_SEARCH and the other filesystem capabilities,
/// so `open_by_handle_at` (which needs CAP_DAC_READ_SEARCH) fails with EPERM
/// inside `run`. Open what the request needs by handle first. Setting fsuid
/// back to 0 restores them.
public struct Credentials: Hashable, Sendable {
    public var user: UserID
    public var group: GroupID
    public var supplementaryGroups: [GroupID]

    public init(user: UserID, group: GroupID, supplementaryGroups: [GroupID] = []) {
        self.user = user
        self.group = group
        self.supplementaryGroups = supplementaryGroups
    }

    /// The calling thread's filesystem credentials.
    public static func ofCallingThread() throws(Errno) -> Credentials {
        let setfsuid = linux_setfsuid
        let setfsgid = linux_setfsgid
        // An invalid id (-1) changes nothing and returns the current one.
        let user = UInt32(bitPattern: setfsuid(UInt32.max))
        let group = UInt32(bitPattern: setfsgid(UInt32.max))
        return Credentials(
            user: UserID(rawValue: user), group: GroupID(rawValue: group),
            supplementaryGroups: try currentGroups())
    }

    /// Runs `body` on the calling thread with these credentials, then puts
    /// back the thread's own, whether `body` returns or throws.
    ///
    /// `body` must not hand work to another thread and expect it to run with
    /// these credentials: threads already running are untouched. (A thread
    /// that `body` creates does start with them: clone copies the creating
    /// thread's credentials.) EPERM: the thread may not take these
    /// credentials (it lacks CAP_SETUID / CAP_SETGID).
    public func run<Result>(_ body: () throws(Errno) -> Result) throws(Errno) -> Result {
        let saved = try Credentials.ofCallingThread()
        try apply(replacing: saved)
        defer {
            do throws(Errno) {
                try saved.apply(replacing: self)
            } catch {
                // Serving the next request with this caller's identity would
                // be worse than stopping.
                fatalError("Credentials: cannot restore the daemon's credentials: \(error)")
            }
        }
        return try body()
    }

    /// Switches the calling thread from `current` to these credentials:
    /// groups, then fsgid, then fsuid. setgroups and setfsgid need
    /// CAP_SETGID and setfsuid CAP_SETUID; a non-zero fsuid does not take
    /// those away, so the same order serves for switching back. On failure
    /// the thread is left as `current`.
    private func apply(replacing current: Credentials) throws(Errno) {
        let setfsuid = linux_setfsuid
        let setfsgid = linux_setfsgid
        if supplementaryGroups != current.supplementaryGroups {
            try Credentials.setThreadGroups(supplementaryGroups)
        }
        if group != current.group {
            _ = setfsgid(group.rawValue)
            // setfsgid reports no error: ask again to learn whether it took.
            if UInt32(bitPattern: setfsgid(UInt32.max)) != group.rawValue {
                try? Credentials.setThreadGroups(current.supplementaryGroups)
                throw .notPermitted
            }
        }
        if user != current.user {
            _ = setfsuid(user.rawValue)
            if UInt32(bitPattern: setfsuid(UInt32.max)) != user.rawValue {
                _ = setfsgid(current.group.rawValue)
                try? Credentials.setThreadGroups(current.supplementaryGroups)
                throw .notPermitted
            }
        }
    }

    /// The raw setgroups system call: this thread only (see the type's
    /// comment for why not glibc's setgroups).
    private static func setThreadGroups(_ groups: [GroupID]) throws(Errno) {
        let ids = groups.map(\.rawValue)
        _ = try ids.withUnsafeBufferPointer { (list) throws(Errno) in
            try systemCall { linux_setgroups_thread(list.count, list.baseAddress) }
        }
    }

    /// getgroups(2): the calling thread's supplementary groups.
    private static func currentGroups() throws(Errno) -> [GroupID] {
        while true {
            let count = Int(try systemCall { getgroups(0, nil) })
            var ids = [gid_t](repeating: 0, count: count)
            do throws(Errno) {
                let got = try ids.withUnsafeMutableBufferPointer { (list) throws(Errno) in
                    try systemCall { getgroups(CInt(count), list.baseAddress) }
                }
                return ids[..<Int(got)].map { GroupID(rawValue: $0) }
            } catch .invalidArgument {
                continue  // the list grew between the two calls
            }
        }
    }
}
