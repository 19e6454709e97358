import CFuse
import DCache
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
/// - `stats`: the cache's statistics as JSON (read).
/// - `reclaim`: write a decimal page count to run a reclaim pass; read the
///   last pass's report as JSON.
/// - `compact`: write "1" to compact (move objects out of sparse slabs);
///   read the last compaction's report as JSON.
///
/// Any other name under the prefix, or any on another node: EINVAL to set,
/// ENODATA to get. Bad values are EINVAL and change nothing. Names under the
/// prefix never reach a backing file, whatever the node.
enum ControlAttribute: String, CaseIterable {
    case slabinfo, stats, reclaim, compact

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
        case .stats: return try json(cache.statistics())
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
        case .slabinfo, .stats:
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
