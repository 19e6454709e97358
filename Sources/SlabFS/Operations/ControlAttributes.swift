import CFuse
import DCache
import Glibc
import Slab
import SystemPackage

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The control attributes under `user.slabfs.` on the mount's root:
///
/// - `slabinfo`: /proc/slabinfo 2.1 text of the cache's slab caches (read).
/// - `stats`: `MountStatistics` as JSON: the cache's statistics, the
///   daemon's RSS, the settings in force (read; `slabfs stats` shows it).
/// - `slabmap`: the dentry and inode slabs' fragmentation maps as JSON
///   (read; `slabfs top` draws them).
/// - `reclaim`: write a decimal page count to run a reclaim pass; read the
///   last pass's report as JSON.
/// - `compact`: write "1" to compact (move objects out of sparse slabs);
///   read the last compaction's report as JSON.
///
/// Any other name under the prefix, or any on another node: EINVAL to set,
/// ENODATA to get. Bad values are EINVAL and change nothing. Names under the
/// prefix never reach a backing file, whatever the node.
enum ControlAttribute: String, CaseIterable {
    case slabinfo, stats, slabmap, reclaim, compact

    static let prefix = "user.slabfs."

    static func isReserved(_ name: String) -> Bool { name.utf8.starts(with: prefix.utf8) }
    static func isReserved(_ name: [UInt8]) -> Bool { name.starts(with: prefix.utf8) }

    /// Names listxattr shows on the root.
    static var listed: [String] { allCases.map { prefix + $0.rawValue } }

    init?(name: String, node: fuse_ino_t) {
        guard node == NodeID.root.rawValue, Self.isReserved(name) else { return nil }
        self.init(rawValue: String(name.dropFirst(Self.prefix.count)))
    }
}

extension FileSystem {
    func controlAttribute(_ name: String, node: fuse_ino_t) throws(Errno) -> [UInt8] {
        guard let attribute = ControlAttribute(name: name, node: node) else { throw .noData }
        switch attribute {
        case .slabinfo: return Array(SlabInfo.format(cache.slabCaches).utf8)
        case .stats: return try json(mountStatistics())
        case .slabmap: return try json(cache.fragmentationMaps())
        case .reclaim: return try json(cache.lastReclaim)
        case .compact: return try json(lastCompaction.withLock { $0 })
        }
    }

    func setControlAttribute(_ name: String, node: fuse_ino_t, value: [UInt8]) throws(Errno) {
        guard let attribute = ControlAttribute(name: name, node: node) else { throw .invalidArgument }
        // `setfattr -v` sends the value as typed; `echo` adds a newline.
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x0a || byte == 0x09 || byte == 0x0d || byte == 0 }
        let text = String(decoding: value.drop(while: isSpace).reversed().drop(while: isSpace).reversed(), as: UTF8.self)
        switch attribute {
        case .slabinfo, .stats, .slabmap:
            throw .invalidArgument
        case .reclaim:
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let pages = Int(text), pages > 0 else { throw .invalidArgument }
            cache.reclaim(pages: pages, source: .explicit)
        case .compact:
            guard text == "1" else { throw .invalidArgument }
            let report = cache.compact()
            lastCompaction.withLock { $0 = report }
        }
    }

    private func mountStatistics() -> MountStatistics {
        let mount = configuration
        let settings: [String: String] = [
            "cache_size": String(cache.budgetBytes),
            "eviction": cache.eviction.rawValue,
            "migrate": cache.migrate ? "on" : "off",
            "page_size": String(mount.pageSizeBytes),
            "kernel_cache_limit": String(mount.kernelCacheLimit),
            "entry_timeout": String(mount.entryTimeoutSeconds),
            "attr_timeout": String(mount.attrTimeoutSeconds),
            "negative_limit": String(cache.negativeLimit),
            "psi_threshold_us": String(mount.psiThresholdMicroseconds),
            "allow_other": mount.allowOther ? "on" : "off",
        ]
        return MountStatistics(cache: cache.statistics(), daemonRSSBytes: Self.residentBytes(),
                               kernelHeldInodes: cache.kernelHeldInodes, configuration: settings)
    }

    /// The daemon's RSS: the second field of /proc/self/statm, in pages.
    private static func residentBytes() -> Int {
        let descriptor = Glibc.open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return 0 }
        defer { _ = Glibc.close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = Glibc.read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return 0 }
        let fields = buffer[..<count].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(getpagesize())
    }

    private func json<T: Encodable>(_ value: T) throws(Errno) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return Array(try encoder.encode(value)) + [0x0a]
        } catch {
            throw .ioError
        }
    }
}
