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

/// The control attributes under `user.slabfs.`.
///
/// On the mount's root:
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
/// - The settings that may change while mounted, by their `-o` names
///   (`cache_size`, `eviction`, `migrate`, `kernel_cache_limit`,
///   `negative_limit`, `entry_timeout`, `attr_timeout`, `cache_timeout`,
///   `poll_us`, `readdir_cache`): read the value in
///   force, write a new one in the spellings the command line takes.
///
/// On every node, the root included: `object`, the node's inode and the
/// dentries naming it (read; JSON).
///
/// Any other name under the prefix, or a root-only name on another node:
/// EINVAL to set, ENODATA to get. Read-only names are EINVAL to set. Bad
/// values are EINVAL and change nothing. Names under the prefix never reach
/// a backing file, whatever the node.
///
/// Who may do what: reading the statistics and settings is open to anyone
/// the kernel lets read the root (they describe the cache, not the files).
/// Writing any name, and reading `object` (heap addresses of a daemon that
/// may be root's, and an O(dentries) scan), is for root and the user who
/// mounted (`ControlCaller`); anyone else gets EPERM and nothing changes.
enum ControlAttribute: String, CaseIterable {
    case slabinfo, stats, slabmap, reclaim, compact, object
    case cacheSize = "cache_size"
    case eviction, migrate
    case kernelCacheLimit = "kernel_cache_limit"
    case negativeLimit = "negative_limit"
    case entryTimeout = "entry_timeout"
    case attrTimeout = "attr_timeout"
    case cacheTimeout = "cache_timeout"
    case poll = "poll_us"
    case readdirCache = "readdir_cache"

    static let prefix = "user.slabfs."

    static func isReserved(_ name: String) -> Bool { name.utf8.starts(with: prefix.utf8) }
    static func isReserved(_ name: [UInt8]) -> Bool { name.starts(with: prefix.utf8) }

    /// Names listxattr shows on the root: all but `object`, which no node
    /// lists (so that `cp -a` and `rsync -X` inside the mount do not try to
    /// copy it, and fail setting it); it is read by name.
    static var listed: [String] { allCases.filter { $0 != .object }.map { prefix + $0.rawValue } }

    /// The runtime setting behind the name, parsed by the command line's
    /// own parser; nil for the names that are not settings.
    var setting: Setting? {
        switch self {
        case .cacheSize: .cacheSize
        case .eviction: .eviction
        case .migrate: .migrate
        case .kernelCacheLimit: .kernelCacheLimit
        case .negativeLimit: .negativeLimit
        case .entryTimeout: .entryTimeout
        case .attrTimeout: .attrTimeout
        case .cacheTimeout: .cacheTimeout
        case .poll: .poll
        case .readdirCache: .readdirCache
        case .slabinfo, .stats, .slabmap, .reclaim, .compact, .object: nil
        }
    }

    /// Whether reading it needs a privileged caller.
    var readIsPrivileged: Bool { self == .object }

    init?(name: String, node: fuse_ino_t) {
        guard Self.isReserved(name), let attribute = Self(rawValue: String(name.dropFirst(Self.prefix.count))),
              node == NodeID.root.rawValue || attribute == .object else { return nil }
        self = attribute
    }
}

/// Whether a request's sender may steer the daemon: root, or the user the
/// daemon runs as (the one who mounted). Taken from the request's context,
/// which the kernel fills in: a caller cannot choose it.
struct ControlCaller {
    let isPrivileged: Bool

    init(isPrivileged: Bool) { self.isPrivileged = isPrivileged }

    init(_ request: fuse_req_t?, _ fileSystem: FileSystem) {
        guard let context = fuse_req_ctx(request)?.pointee else {
            self.init(isPrivileged: false)
            return
        }
        self.init(isPrivileged: context.uid == 0 || context.uid == fileSystem.daemonUser)
    }
}

/// What `user.slabfs.object` holds.
struct ObjectReport: Codable {
    var inode: InodeDescription
    /// Dentries naming the node (none for the root); at most 8.
    var dentries: [DentryDescription]
    /// How many live dentries name it (more than one: hard links).
    var dentryCount: Int
}

extension FileSystem {
    func controlAttribute(_ name: String, node: fuse_ino_t, by caller: ControlCaller) throws(Errno) -> [UInt8] {
        guard let attribute = ControlAttribute(name: name, node: node) else { throw .noData }
        guard caller.isPrivileged || !attribute.readIsPrivileged else { throw .notPermitted }
        if let setting = attribute.setting { return Array(settingValue(setting).utf8) }
        switch attribute {
        case .slabinfo: return Array(SlabInfo.format(cache.slabCaches).utf8)
        case .stats: return try json(mountStatistics())
        case .slabmap: return try json(cache.fragmentationMaps())
        case .reclaim: return try json(cache.lastReclaim)
        case .compact: return try json(lastCompaction.withLock { $0 })
        case .object: return try json(objectReport(node))
        default: throw .noData
        }
    }

    func setControlAttribute(_ name: String, node: fuse_ino_t, value: [UInt8], by caller: ControlCaller) throws(Errno) {
        guard let attribute = ControlAttribute(name: name, node: node) else { throw .invalidArgument }
        guard caller.isPrivileged else { throw .notPermitted }
        // `setfattr -v` sends the value as typed; `echo` adds a newline.
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x0a || byte == 0x09 || byte == 0x0d || byte == 0 }
        let text = String(decoding: value.drop(while: isSpace).reversed().drop(while: isSpace).reversed(), as: UTF8.self)
        if let setting = attribute.setting {
            try set(setting, to: text)
            return
        }
        switch attribute {
        case .reclaim:
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let pages = Int(text), pages > 0 else { throw .invalidArgument }
            cache.reclaim(pages: pages, source: .explicit)
        case .compact:
            guard text == "1" else { throw .invalidArgument }
            let report = cache.compact()
            lastCompaction.withLock { $0 = report }
        default:
            throw .invalidArgument
        }
    }

    /// The node's inode and the dentries naming it. The dentries come from a
    /// scan of the dentry table (DirectoryCache+Names.swift): O(dentries
    /// cached), fine for a diagnostic read.
    private func objectReport(_ node: fuse_ino_t) throws(Errno) -> ObjectReport {
        let id = NodeID(node)
        guard let inode = cache.describeInode(id) else { throw .staleNFSFileHandle }
        guard id != .root else { return ObjectReport(inode: inode, dentries: [], dentryCount: 0) }
        let names = cache.dentryNames(of: id)
        return ObjectReport(inode: inode, dentries: names.dentries, dentryCount: names.total)
    }

    /// A runtime setting's value in force, as its attribute reads.
    private func settingValue(_ setting: Setting) -> String {
        switch setting {
        case .cacheSize: String(cache.budgetBytes)
        case .eviction: cache.eviction.rawValue
        case .migrate: cache.migrate ? "on" : "off"
        case .kernelCacheLimit: String(kernelDrops.kernelCacheLimit)
        case .negativeLimit: String(cache.negativeLimit)
        case .entryTimeout: String(entryTimeout)
        case .attrTimeout: String(attributeTimeout)
        case .cacheTimeout: String(cacheTimeout)
        case .pageSize: String(configuration.pageSizeBytes)
        case .psiThreshold: String(configuration.psiThresholdMicroseconds)
        case .threads: String(configuration.threads)
        case .poll: String(requestLoop.maximumMicroseconds)
        case .readdirCache: readdirCacheEnabled.load(ordering: .relaxed) ? "on" : "off"
        case .coherence: coherence.mode
        case .passthrough: passthrough.isActive ? "on" : "off"
        }
    }

    /// Parses `text` as the command line would (`Setting.apply`), then puts
    /// the value in force; a rejected value changes nothing. Concurrent
    /// writes of different settings are independent; of the same one, the
    /// last wins.
    private func set(_ setting: Setting, to text: String) throws(Errno) {
        var parsed = configuration
        if let reason = setting.apply(text, to: &parsed) {
            logError("user.slabfs.\(setting.optionKey): invalid \(setting.noun) '\(text)': \(reason)")
            throw .invalidArgument
        }
        switch setting {
        case .cacheSize: cache.budgetBytes = parsed.cacheSizeBytes
        case .eviction: cache.eviction = parsed.eviction == .lru ? .lru : .page
        case .migrate: cache.migrate = parsed.migrate
        case .kernelCacheLimit: kernelDrops.kernelCacheLimit = parsed.kernelCacheLimit
        case .negativeLimit: cache.negativeLimit = parsed.negativeDentryLimit
        case .entryTimeout: entryTimeout = parsed.entryTimeoutSeconds
        case .attrTimeout: attributeTimeout = parsed.attrTimeoutSeconds
        case .cacheTimeout:
            let shorter = parsed.cacheTimeoutSeconds < cacheTimeout
            cacheTimeout = parsed.cacheTimeoutSeconds
            // What was recorded under the longer timeout must not outlive the new one.
            if shorter { cache.expireAll() }
        case .poll: requestLoop.maximumMicroseconds = parsed.pollMicroseconds
        case .readdirCache: readdirCacheEnabled.store(parsed.readdirCache, ordering: .relaxed)
        case .pageSize, .psiThreshold, .threads, .coherence, .passthrough: throw .invalidArgument
        }
    }

    private func mountStatistics() -> MountStatistics {
        // Every setting as its attribute reads now: runtime changes show.
        var settings = Dictionary(uniqueKeysWithValues: Setting.allCases.map { ($0.optionKey, settingValue($0)) })
        settings["allow_other"] = configuration.allowOther ? "on" : "off"
        return MountStatistics(cache: cache.statistics(), daemonRSSBytes: ProcessMemory.residentBytes(),
                               kernelHeldInodes: cache.kernelHeldInodes, configuration: settings,
                               requestLoop: requestLoop.statistics, coherence: coherence.statistics,
                               requests: requestLoop.statistics == nil ? nil : requestLoop.requests.snapshot,
                               passthrough: passthrough.statistics)
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
