import CFuse
import DCache
import Glibc
import SystemPackage

/// The fanotify group that watches the filesystems under the backing
/// directory, set up before mounting so that `--coherence events` can refuse
/// with one line while the terminal still listens.
///
/// One filesystem mark (`FAN_MARK_FILESYSTEM`, Linux 4.20, CAP_SYS_ADMIN) per
/// filesystem: the backing directory's, and one for each other filesystem
/// mounted under it. A filesystem that cannot be marked (a FUSE mount: no
/// filesystem id, ENODEV; a btrfs subvolume: EXDEV) or whose events would
/// miss changes (network filesystems report only this machine's) is left to
/// timeouts: `unwatched` says which, and replies for its files keep today's
/// short timeouts. If the backing directory's own filesystem cannot be
/// watched, nothing is.
final class BackingWatch: @unchecked Sendable {
    struct WatchedFileSystem {
        let path: String
        let device: UInt64
        /// A descriptor on the filesystem, for open_by_handle_at.
        let mount: FileDescriptor
        /// Its handles are FILEID_INO32_GEN (type 1: inode number, then
        /// generation), as ext4's and xfs's are: the inode number can be read
        /// from a handle without a system call.
        let inodeNumberHandles: Bool
    }

    /// The fanotify group's descriptor (non-blocking).
    let descriptor: CInt
    let fileSystems: [BackingEvent.FileSystemID: WatchedFileSystem]
    /// "path: why" for each filesystem under the backing directory left to
    /// timeouts.
    let unwatched: [String]
    /// The devices whose changes are reported, for choosing timeouts.
    let watchedDevices: Set<UInt64>

    private init(descriptor: CInt, fileSystems: [BackingEvent.FileSystemID: WatchedFileSystem], unwatched: [String]) {
        self.descriptor = descriptor
        self.fileSystems = fileSystems
        self.unwatched = unwatched
        watchedDevices = Set(fileSystems.values.map(\.device))
    }

    func close() {
        try? FileDescriptor(rawValue: descriptor).close()
        for fileSystem in fileSystems.values { try? fileSystem.mount.close() }
    }

    /// Sets up the group over `source`, or says in a few words why events
    /// cannot work there.
    static func open(source: String) -> Result<BackingWatch, CoherenceFailure> {
        guard let root = realPath(source) else { return .failure(CoherenceFailure("cannot resolve '\(source)'")) }
        if let kind = remoteKind(root) {
            return .failure(CoherenceFailure("the backing directory is on \(kind), whose events report only this machine's changes"))
        }
        let flags = UInt32(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_FID | FAN_REPORT_DFID_NAME)
        let group = fanotify_init(flags, UInt32(O_RDONLY | O_CLOEXEC))
        guard group >= 0 else {
            let error = errno
            switch error {
            case EPERM: return .failure(CoherenceFailure("fanotify filesystem marks need CAP_SYS_ADMIN"))
            case EINVAL: return .failure(CoherenceFailure("this kernel's fanotify cannot report names (Linux 5.9 or later)"))
            default: return .failure(CoherenceFailure("fanotify_init: \(String(cString: strerror(error)))"))
            }
        }
        var watched: [BackingEvent.FileSystemID: WatchedFileSystem] = [:]
        var unwatched: [String] = []
        let closeAll = {
            try? FileDescriptor(rawValue: group).close()
            for fileSystem in watched.values { try? fileSystem.mount.close() }
        }
        switch mark(group, root) {
        case .success(let (id, fileSystem)): watched[id] = fileSystem
        case .failure(let failure):
            closeAll()
            return .failure(failure)
        }
        for path in mountPoints(under: root) {
            // Another mount of a filesystem already marked (a bind mount) needs no mark of its own.
            guard let status = try? statPath(path), !watched.values.contains(where: { $0.device == UInt64(status.st_dev) })
            else { continue }
            if let kind = remoteKind(path) {
                unwatched.append("\(path): \(kind)")
                continue
            }
            switch mark(group, path) {
            case .success(let (id, fileSystem)): watched[id] = fileSystem
            case .failure(let failure): unwatched.append("\(path): \(failure.reason)")
            }
        }
        return .success(BackingWatch(descriptor: group, fileSystems: watched, unwatched: unwatched))
    }

    /// Marks the filesystem `path` is on.
    private static func mark(_ group: CInt, _ path: String)
        -> Result<(BackingEvent.FileSystemID, WatchedFileSystem), CoherenceFailure> {
        let flags = UInt32(FAN_MARK_ADD | FAN_MARK_FILESYSTEM)
        guard fanotify_mark(group, flags, BackingEvent.watchedMask, AT_FDCWD, path) == 0 else {
            let error = errno
            switch error {
            case ENODEV: return .failure(CoherenceFailure("its filesystem has no id for events (FUSE, or one like it)"))
            case EXDEV: return .failure(CoherenceFailure("it is a btrfs subvolume, which refuses filesystem marks"))
            case EPERM: return .failure(CoherenceFailure("fanotify filesystem marks need CAP_SYS_ADMIN"))
            case EINVAL: return .failure(CoherenceFailure("this kernel cannot watch a whole filesystem (Linux 4.20 or later)"))
            default: return .failure(CoherenceFailure("fanotify_mark: \(String(cString: strerror(error)))"))
            }
        }
        var info = statfs()
        let mount = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard mount >= 0, fstatfs(mount, &info) == 0, let status = try? FileDescriptor(rawValue: mount).statDescriptor()
        else {
            if mount >= 0 { try? FileDescriptor(rawValue: mount).close() }
            return .failure(CoherenceFailure("cannot open '\(path)' for file handles"))
        }
        let id = BackingEvent.FileSystemID(words: info.f_fsid.__val)
        let descriptor = FileDescriptor(rawValue: mount)
        var inodeNumberHandles = false
        if let made = try? BackingHandle.make(of: nil, in: descriptor), made.handle.type == 1, made.handle.bytes.count == 8 {
            let inode = made.handle.bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            inodeNumberHandles = UInt64(inode) == UInt64(status.rawValue.st_ino)
        }
        return .success((id, WatchedFileSystem(path: path, device: UInt64(status.rawValue.st_dev), mount: descriptor,
                                              inodeNumberHandles: inodeNumberHandles)))
    }

    /// statfs(2) magic numbers of filesystems whose events would not tell of
    /// every change: other machines change them too, or, for FUSE, another
    /// daemon serves them.
    private static let remoteFileSystems: [Int: String] = [
        0x6969: "NFS", 0xFF53_4D42: "CIFS", 0xFE53_4D42: "SMB2", 0x517B: "SMB", 0x00C3_6400: "Ceph",
        0x0102_1997: "9P", 0x6573_5546: "FUSE", 0x5346_414F: "AFS", 0x4750_4653: "GPFS", 0x0BD0_0BD0: "Lustre",
    ]

    private static func remoteKind(_ path: String) -> String? {
        var info = statfs()
        guard statfs(path, &info) == 0 else { return nil }
        return remoteFileSystems[Int(UInt32(truncatingIfNeeded: info.f_type))]
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func statPath(_ path: String) throws(Errno) -> stat {
        var status = stat()
        guard stat(path, &status) == 0 else { throw Errno(rawValue: errno) }
        return status
    }

    /// Mount points strictly under `root`, from /proc/self/mountinfo (its
    /// fifth field, with spaces, tabs, newlines and backslashes as octal
    /// escapes).
    static func mountPoints(under root: String, mountinfo: String? = nil) -> [String] {
        guard let text = mountinfo ?? readKernelFile("/proc/self/mountinfo") else { return [] }
        let prefix = root == "/" ? "/" : root + "/"
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 4 else { return nil }
            let point = unescape(fields[4])
            return point.hasPrefix(prefix) && point != root ? point : nil
        }
    }

    private static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Why the backing directory cannot be watched, in a few words.
struct CoherenceFailure: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
