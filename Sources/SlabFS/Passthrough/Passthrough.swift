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
/// The id is released at the inode's last RELEASE (or when an OPEN reply
/// cannot be delivered, through the same path).
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
        /// `file`: our descriptor of the backing file, closed after the id:
        /// the last close of it is then ours, and the backing filesystem's
        /// close event carries the daemon's pid (skipped), not a user's.
        case passthrough(id: Int32, file: CInt, opens: Int)
        case cached(opens: Int)
    }

    private let inodes = Locked([NodeID: InodeState]())
    /// Inodes registered now, readable without the lock (getattr asks).
    private let registered = Atomic<Int>(0)
    let registrations = Atomic<Int>(0)

    init(wanted: Bool, refusal: String?) {
        negotiation = InitNegotiation(wantsPassthrough: wanted)
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
                                     registrations: registrations.load(ordering: .relaxed))
    }

    /// Whether the kernel may have changed the inode's size and times
    /// without telling us (it is open in passthrough).
    func isOpen(_ node: NodeID) -> Bool {
        guard registered.load(ordering: .relaxed) > 0 else { return false }
        return inodes.withLock { if case .passthrough? = $0[node] { true } else { false } }
    }

    /// Open in passthrough, or was among the last inodes to close it: the
    /// backing filesystem's events about it may still be on their way.
    func isOpenOrRecent(_ node: NodeID) -> Bool {
        isOpen(node) || recent.withLock { $0.contains(node) }
    }

    /// The last inodes whose passthrough ended, oldest first.
    private let recent = Locked(RecentNodes(capacity: 4096))

    /// The backing id for an open of `node`, or nil to serve it cached.
    /// `eligible`: the file may be opened in passthrough (a regular file
    /// without setuid, setgid or capabilities). `openBacking` opens the
    /// file the kernel will use (read-write as the daemon). Balance every
    /// call with `release(node, backingID:)`.
    func open(_ node: NodeID, eligible: Bool, openBacking: () throws(Errno) -> FileDescriptor) -> Int32? {
        guard negotiation.wantsPassthrough else { return nil }
        return inodes.withLock { inodes -> Int32? in
            switch inodes[node] {
            case .passthrough(let id, let file, let count)?:
                inodes[node] = .passthrough(id: id, file: file, opens: count + 1)
                return id
            case .cached(let count)?:
                inodes[node] = .cached(opens: count + 1)
                return nil
            case nil:
                guard eligible, isActive, let (id, file) = register(openBacking) else {
                    inodes[node] = .cached(opens: 1)
                    return nil
                }
                inodes[node] = .passthrough(id: id, file: file, opens: 1)
                registered.add(1, ordering: .relaxed)
                registrations.add(1, ordering: .relaxed)
                return id
            }
        }
    }

    /// One open of `node` ended (RELEASE, or a reply never delivered).
    /// Returns whether it was in passthrough: the kernel may then have
    /// changed the file's size and times without a request reaching us.
    @discardableResult
    func release(_ node: NodeID) -> Bool {
        guard negotiation.wantsPassthrough else { return false }
        let (wasPassthrough, toClose): (Bool, (id: Int32, file: CInt)?) = inodes.withLock { inodes in
            switch inodes[node] {
            case .passthrough(let id, let file, let count)?:
                if count > 1 {
                    inodes[node] = .passthrough(id: id, file: file, opens: count - 1)
                    return (true, nil)
                }
                inodes[node] = nil
                return (true, (id, file))
            case .cached(let count)?:
                inodes[node] = count > 1 ? .cached(opens: count - 1) : nil
                return (false, nil)
            case nil:
                return (false, nil)
            }
        }
        if let (id, file) = toClose {
            registered.add(-1, ordering: .relaxed)
            recent.withLock { $0.insert(node) }
            // FUSE_DEV_IOC_BACKING_CLOSE: the kernel keeps its own reference
            // while it has the file open.
            var backingID = id
            _ = ioctl(fuseDescriptor.load(ordering: .relaxed), Self.backingClose, &backingID)
            _ = Glibc.close(file)
        }
        return wasPassthrough
    }

    // FUSE_DEV_IOC_BACKING_OPEN, _IOW(229, 1, struct fuse_backing_map):
    // {s32 fd; u32 flags; u64 padding}; returns the id. BACKING_CLOSE,
    // _IOW(229, 2, u32).
    private static let backingOpen: UInt = 0x4010_e501
    private static let backingClose: UInt = 0x4004_e502

    /// Registers the backing file: its id and our descriptor of it; nil
    /// (and passthrough off for good if the kernel refuses the daemon) when
    /// it cannot.
    private func register(_ openBacking: () throws(Errno) -> FileDescriptor) -> (Int32, CInt)? {
        guard let file = try? openBacking() else { return nil }
        var map: (Int32, UInt32, UInt64) = (file.rawValue, 0, 0)
        let id = ioctl(fuseDescriptor.load(ordering: .relaxed), Self.backingOpen, &map)
        if id >= 0 { return (id, file.rawValue) }
        let error = errno
        _ = Glibc.close(file.rawValue)
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

/// A bounded set that forgets its oldest member first.
private struct RecentNodes {
    let capacity: Int
    private var order: [NodeID] = []
    private var next = 0
    private var members: Set<NodeID> = []

    init(capacity: Int) { self.capacity = capacity }

    func contains(_ node: NodeID) -> Bool { members.contains(node) }

    mutating func insert(_ node: NodeID) {
        guard members.insert(node).inserted else { return }
        if order.count < capacity {
            order.append(node)
        } else {
            members.remove(order[next])
            order[next] = node
            next = (next + 1) % capacity
        }
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
}
