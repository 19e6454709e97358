import CFuse
import DCache
import Glibc
import Slab
import Synchronization
import SystemPackage

/// The kernel's FUSE passthrough (Linux 6.9): for a regular file opened in
/// passthrough, the kernel reads, writes, splices and maps the backing file
/// itself, and no READ or WRITE reaches the daemon.
///
/// How a file is registered: the kernel allows one backing file per inode
/// while it is open, and does the I/O with that file's access mode and
/// credentials. So the first open of an inode registers a backing file the
/// daemon opens read-write (read-only where the backing filesystem refuses
/// writing: a read-only mount, an immutable file), by handle, as itself;
/// every later open of the inode, by any user, in any mode, reuses that
/// backing id. Permission checks stay the caller's: each open still opens
/// the backing file as the caller (the kernel checked the mode bits too,
/// with default_permissions), and a write through an open the caller made
/// read-only is refused by the kernel before it reaches the backing file.
/// At the inode's last RELEASE (or when an OPEN reply cannot be delivered,
/// through the same path) the id is kept idle for the next open where
/// events say when the file goes, else released (`Registry`).
///
/// Setuid and setgid files are not opened in passthrough: the kernel writes
/// with the daemon's credentials, whose CAP_FSETID keeps those bits where a
/// non-owner's write must clear them. (A `security.capability` needs no such
/// care: the backing filesystem removes it at any write, whoever writes; and
/// with FUSE_HANDLE_KILLPRIV_V2 the kernel asks for it once per inode, not
/// before every write.) An inode is either in passthrough or
/// cached for as long as any of its opens lasts (the kernel refuses to mix
/// them on one inode): an open of an inode already open the other way is
/// served the other way too.
///
/// Where the kernel does not offer it (before 6.9), or the daemon lacks
/// CAP_SYS_ADMIN (the kernel checks it at registration, and says so only
/// then, EPERM), files are served as without passthrough, said once in the
/// log and in stats.
final class Passthrough: @unchecked Sendable {
    let negotiation: InitNegotiation
    /// Why passthrough is off, when it is.
    private let refusal = Locked<String?>(nil)
    private let fuseDescriptor = Atomic<Int32>(-1)

    private enum InodeState {
        /// Registered as backing file `id`, used by `opens` opens (at least
        /// one); `identity`: the file's, kept with an idle registration.
        case passthrough(id: Int32, opens: Int, identity: BackingIdentity)
        case cached(opens: Int)
    }

    /// Inodes open now, and the registrations kept idle.
    ///
    /// Why keep them: a registration costs the daemon an open of the
    /// backing file and an ioctl, and its release another ioctl and a
    /// close; an inode opened again (a file written, then read; a build
    /// reading its inputs twice) reuses the backing id without either. The
    /// kernel holds the backing file while the id is registered, so an idle
    /// registration is kept only where events tell us when the file goes:
    /// dropped when the kernel forgets the inode (after an unlink, through
    /// the mount or behind it, it does at once), when its mode changes, and
    /// when the table's set for it is full. Our own descriptor is closed
    /// once the kernel has the file: the daemon holds none per registration.
    private struct Registry {
        var inodes: [NodeID: InodeState] = [:]
        /// Registered read-only (the backing file refused writing: busy
        /// being executed, immutable): never kept idle, so that a later
        /// write open registers a writable file.
        var readOnly: Set<NodeID> = []
        var idle: IdleRegistrations
    }

    private let registry: Locked<Registry>
    /// Inodes open in passthrough now, readable without the lock (getattr asks).
    private let registered = Atomic<Int>(0)
    /// Idle registrations now.
    private let idleNow = Atomic<Int>(0)
    let registrations = Atomic<Int>(0)
    /// Opens served by an idle registration, without registering again.
    let reuses = Atomic<Int>(0)

    /// `idleLimit`: registrations kept idle at most (0: none).
    init(wanted: Bool, refusal: String?, idleLimit: Int = 4096) {
        negotiation = InitNegotiation(wantsPassthrough: wanted)
        registry = Locked(Registry(idle: IdleRegistrations(capacity: idleLimit)))
        self.refusal.withLock { $0 = refusal }
    }

    func attach(session: OpaquePointer) {
        fuseDescriptor.store(fuse_session_fd(session), ordering: .relaxed)
    }

    /// Whether opens go through the kernel now.
    var isActive: Bool { negotiation.negotiated.load(ordering: .relaxed) && refusal.withLock { $0 == nil } }

    var statistics: PassthroughStatistics {
        let reason: String? = refusal.withLock { $0 }
            ?? (negotiation.wantsPassthrough && !negotiation.negotiated.load(ordering: .relaxed)
                ? "the kernel did not offer FUSE_PASSTHROUGH at INIT" : nil)
        return PassthroughStatistics(mode: isActive ? "on" : "off", reason: reason,
                                     openInodes: registered.load(ordering: .relaxed),
                                     registrations: registrations.load(ordering: .relaxed),
                                     idleRegistrations: idleNow.load(ordering: .relaxed),
                                     reuses: reuses.load(ordering: .relaxed))
    }

    /// Whether the kernel may have changed the inode's size and times
    /// without telling us (it is open in passthrough).
    func isOpen(_ node: NodeID) -> Bool {
        guard registered.load(ordering: .relaxed) > 0 else { return false }
        return registry.withLock {
            if case .passthrough? = $0.inodes[node] { true } else { false }
        }
    }

    /// Open in passthrough, or closed with its registration kept idle: the
    /// backing filesystem's events about the kernel's writes may still be
    /// on their way. (Only the event watcher asks, and only with events are
    /// registrations kept idle. One the table gave up is not recognised:
    /// the kernel is then told about a change it made itself, which costs
    /// a notification and nothing else.)
    func isOpenOrRecent(_ node: NodeID) -> Bool {
        guard registered.load(ordering: .relaxed) > 0 || hasIdleRegistrations else { return false }
        return registry.withLock { state in
            if case .passthrough? = state.inodes[node] { return true }
            return state.idle.contains(node)
        }
    }

    /// The backing id for an open of `node`, or nil to serve it cached.
    /// `eligible`: the file may be opened in passthrough (a regular file
    /// without setuid or setgid). `openBacking` opens the file the kernel
    /// will use (read-write as the daemon). Balance every call with
    /// `release(node, keepIdle:)`.
    func open(_ node: NodeID, identity: BackingIdentity, eligible: Bool,
              openBacking: () throws(Errno) -> FileDescriptor) -> Int32? {
        guard negotiation.wantsPassthrough else { return nil }
        var stale: Int32?
        defer { if let stale { closeBacking(stale) } }
        return registry.withLock { registry -> Int32? in
            switch registry.inodes[node] {
            case .passthrough(let id, let count, let fileIdentity)?:
                registry.inodes[node] = .passthrough(id: id, opens: count + 1, identity: fileIdentity)
                return id
            case .cached(let count)?:
                registry.inodes[node] = .cached(opens: count + 1)
                return nil
            case nil:
                if let (id, keptFor) = registry.idle.take(node) {
                    idleNow.store(registry.idle.count, ordering: .relaxed)
                    // The same file, still eligible (not made setuid or
                    // setgid while idle), with passthrough still on: reuse it.
                    if keptFor == identity && eligible && isActive {
                        registry.inodes[node] = .passthrough(id: id, opens: 1, identity: identity)
                        registered.add(1, ordering: .relaxed)
                        reuses.add(1, ordering: .relaxed)
                        return id
                    }
                    stale = id
                }
                return registerOrCache(node, identity: identity, eligible: eligible, &registry, openBacking)
            }
        }
    }

    /// The first open of `node` (none other is open): registered if it may be.
    private func registerOrCache(_ node: NodeID, identity: BackingIdentity, eligible: Bool, _ registry: inout Registry,
                                 _ openBacking: () throws(Errno) -> FileDescriptor) -> Int32? {
        guard eligible, isActive, let (id, writable) = register(openBacking) else {
            registry.inodes[node] = .cached(opens: 1)
            return nil
        }
        if !writable { registry.readOnly.insert(node) }
        registry.inodes[node] = .passthrough(id: id, opens: 1, identity: identity)
        registered.add(1, ordering: .relaxed)
        registrations.add(1, ordering: .relaxed)
        return id
    }

    /// One open of `node` ended (RELEASE, or a reply never delivered).
    /// If `keepIdle` says so (asked only at the last open of a registered
    /// inode, under the registry's lock), the registration stays idle for
    /// the next open. Returns whether it was in passthrough: the kernel may
    /// then have changed the file's size and times without a request
    /// reaching us.
    @discardableResult
    func release(_ node: NodeID, keepIdle: () -> Bool) -> Bool {
        guard negotiation.wantsPassthrough else { return false }
        let (wasPassthrough, ended, toClose): (Bool, Bool, Int32?) = registry.withLock { registry in
            switch registry.inodes[node] {
            case .passthrough(let id, let count, let identity)?:
                if count > 1 {
                    registry.inodes[node] = .passthrough(id: id, opens: count - 1, identity: identity)
                    return (true, false, nil)
                }
                registry.inodes[node] = nil
                let readOnly = registry.readOnly.remove(node) != nil
                guard !readOnly && registry.idle.capacity > 0 && keepIdle() else { return (true, true, id) }
                let displaced = registry.idle.put(node, id: id, identity: identity)
                idleNow.store(registry.idle.count, ordering: .relaxed)
                return (true, true, displaced)
            case .cached(let count)?:
                registry.inodes[node] = count > 1 ? .cached(opens: count - 1) : nil
                return (false, false, nil)
            case nil:
                return (false, false, nil)
            }
        }
        if ended { registered.add(-1, ordering: .relaxed) }
        if let toClose { closeBacking(toClose) }
        return wasPassthrough
    }

    var hasIdleRegistrations: Bool { idleNow.load(ordering: .relaxed) > 0 }

    /// Whether `node` has a registration kept idle.
    func isIdle(_ node: NodeID) -> Bool {
        registry.withLock { $0.idle.contains(node) }
    }

    /// Drops an idle registration of `node`: the kernel forgot the inode
    /// (the file may be gone; the node id may name another file later), or
    /// its mode changed (a writable backing file kept open would make an
    /// exec of it fail with ETXTBSY).
    func dropIdle(_ node: NodeID) {
        if let id = takeIdle(node) { closeBacking(id) }
    }

    /// Takes `node`'s idle registration out of the table, if it has one;
    /// the caller gives it back (`closeBacking`).
    func takeIdle(_ node: NodeID) -> Int32? {
        guard hasIdleRegistrations else { return nil }
        return registry.withLock { registry in
            guard let (id, _) = registry.idle.take(node) else { return nil }
            idleNow.store(registry.idle.count, ordering: .relaxed)
            return id
        }
    }

    /// FUSE_DEV_IOC_BACKING_CLOSE: the kernel keeps its own reference
    /// while it has the file open.
    func closeBacking(_ id: Int32) {
        _ = slabfs_backing_close(fuseDescriptor.load(ordering: .relaxed), id)
    }

    /// Registers the backing file and closes our descriptor of it (the
    /// kernel holds the file from then on: its last close is the daemon's
    /// BACKING_CLOSE, whose close event carries the daemon's pid and is
    /// skipped); nil (and passthrough off for good if the kernel refuses
    /// the daemon) when it cannot.
    private func register(_ openBacking: () throws(Errno) -> FileDescriptor) -> (id: Int32, writable: Bool)? {
        guard let file = try? openBacking() else { return nil }
        defer { try? file.close() }
        let id = slabfs_backing_open(fuseDescriptor.load(ordering: .relaxed), file.rawValue)
        if id >= 0 { return (id, fcntl(file.rawValue, F_GETFL) & O_ACCMODE == O_RDWR) }
        let error = errno
        if error == EPERM || error == ENOTTY || error == EINVAL {
            let reason = error == EPERM ? "the kernel refused the daemon a backing file (CAP_SYS_ADMIN)"
                : "this kernel has no FUSE passthrough (\(String(cString: strerror(error))))"
            let first: Bool = refusal.withLock { refusal in
                defer { if refusal == nil { refusal = reason } }
                return refusal == nil
            }
            if first { logError("passthrough: off, files are served by the daemon: \(reason)") }
        }
        return nil
    }
}

/// `passthrough` in `user.slabfs.stats`.
public struct PassthroughStatistics: Codable, Sendable, Equatable {
    /// "on" or "off".
    public var mode: String
    /// Why it is off, where it was asked for.
    public var reason: String?
    /// Inodes open through the kernel now.
    public var openInodes: Int
    /// Backing files registered since mount.
    public var registrations: Int
    /// Registrations kept after their inode's last close, for its next open
    /// (optional, as `reuses`: a daemon older than them omits them).
    public var idleRegistrations: Int?
    /// Opens that reused an idle registration.
    public var reuses: Int?
}
