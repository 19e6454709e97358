#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import DCache
import SystemPackage

/// What `MountConfiguration.parse` needs to know about the system, as
/// replaceable closures: `.system` asks the real one; tests swap single
/// members (no /dev/fuse needed, a fake mount table, ...).
public struct MountProbe: Sendable {
    /// `stat(2)` (following symlinks) of a path.
    public var status: @Sendable (_ path: String) -> Result<PathStatus, Errno>
    /// `realpath(3)`: absolute, without symlinks, `.` or `..`.
    public var canonicalPath: @Sendable (_ path: String) -> Result<String, Errno>
    /// Mount points of this mount namespace (/proc/self/mountinfo), or nil
    /// if unreadable (then only the st_dev comparison is used).
    public var mountPoints: @Sendable () -> Set<String>?
    /// Opens /dev/fuse read-write and closes it again: nil if that worked.
    public var openFuseDevice: @Sendable () -> Errno?
    /// Whether a file descriptor is open in this process (for `/dev/fd/N`).
    public var isOpenDescriptor: @Sendable (_ descriptor: Int32) -> Bool

    public init(
        status: @escaping @Sendable (String) -> Result<PathStatus, Errno>,
        canonicalPath: @escaping @Sendable (String) -> Result<String, Errno>,
        mountPoints: @escaping @Sendable () -> Set<String>?,
        openFuseDevice: @escaping @Sendable () -> Errno?,
        isOpenDescriptor: @escaping @Sendable (Int32) -> Bool
    ) {
        self.status = status
        self.canonicalPath = canonicalPath
        self.mountPoints = mountPoints
        self.openFuseDevice = openFuseDevice
        self.isOpenDescriptor = isOpenDescriptor
    }

    /// The real system.
    public static let system = MountProbe(
        status: { path in
            var buffer = stat()
            guard stat(path, &buffer) == 0 else { return .failure(Errno(rawValue: errno)) }
            return .success(PathStatus(
                isDirectory: buffer.st_mode & S_IFMT == S_IFDIR,
                device: UInt64(buffer.st_dev),
                inode: UInt64(buffer.st_ino)))
        },
        canonicalPath: { path in
            guard let resolved = realpath(path, nil) else { return .failure(Errno(rawValue: errno)) }
            defer { free(resolved) }
            return .success(String(cString: resolved))
        },
        mountPoints: {
            readKernelFile("/proc/self/mountinfo").map(parseMountInfo)
        },
        openFuseDevice: {
            let descriptor = open("/dev/fuse", O_RDWR | O_CLOEXEC)
            guard descriptor >= 0 else { return Errno(rawValue: errno) }
            close(descriptor)
            return nil
        },
        isOpenDescriptor: { descriptor in fcntl(descriptor, F_GETFD) != -1 }
    )

    /// This probe with /dev/fuse taken as present (`nil`) or failing with the given error.
    public func withFuseDevice(_ result: Errno?) -> MountProbe {
        var probe = self
        probe.openFuseDevice = { result }
        return probe
    }
}

/// The parts of `struct stat` the checks use.
public struct PathStatus: Sendable, Equatable {
    public var isDirectory: Bool
    public var device: UInt64
    public var inode: UInt64

    public init(isDirectory: Bool, device: UInt64, inode: UInt64) {
        self.isDirectory = isDirectory
        self.device = device
        self.inode = inode
    }
}

/// The mount points (fifth field) of /proc/self/mountinfo text, with the
/// kernel's octal escapes (`\040` for a space) decoded.
func parseMountInfo(_ text: String) -> Set<String> {
    var points = Set<String>()
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count > 4 else { continue }
        points.insert(decodeMountInfoEscapes(fields[4]))
    }
    return points
}

func decodeMountInfoEscapes(_ field: Substring) -> String {
    let raw = Array(field.utf8)
    var bytes: [UInt8] = []
    var index = 0
    while index < raw.count {
        if raw[index] == UInt8(ascii: "\\"), index + 3 < raw.count {
            let digits = raw[(index + 1)...(index + 3)]
            let isOctal = digits.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "7")).contains($0) }
            let value = isOctal ? digits.reduce(0) { $0 << 3 | Int($1 - UInt8(ascii: "0")) } : Int.max
            if value <= 0xFF {
                bytes.append(UInt8(value))
                index += 4
                continue
            }
        }
        bytes.append(raw[index])
        index += 1
    }
    return String(decoding: bytes, as: UTF8.self)
}
