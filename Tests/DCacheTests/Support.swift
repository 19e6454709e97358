import DCache
import Glibc
import Slab

/// A cache for tests: no budget, no PSI, small reservations.
func makeCache(_ configure: (inout DirectoryCache.Configuration) -> Void = { _ in }) throws -> DirectoryCache {
    var configuration = DirectoryCache.Configuration()
    configuration.reservedBytes = 1 << 30
    configure(&configuration)
    return try DirectoryCache(configuration)
}

func identity(_ n: UInt64) -> BackingIdentity { BackingIdentity(device: 7, inode: n) }

/// A handle that encodes its inode number, so moved objects can be checked.
func handle(_ n: UInt64, long: Bool = false) -> BackingFileHandle {
    var bytes = withUnsafeBytes(of: n.littleEndian) { Array($0) }
    if long { bytes += Array(repeating: UInt8(truncatingIfNeeded: n), count: 40) }
    return BackingFileHandle(type: 1, bytes: bytes)
}

func attributes(_ n: UInt64, directory: Bool = false) -> InodeAttributes {
    var a = InodeAttributes()
    a.mode = directory ? 0o040755 : 0o100644
    a.nlink = 1
    a.size = n
    a.mtime = Int64(n) * 1_000_000_000
    return a
}

func name(_ s: String) -> [UInt8] { Array(s.utf8) }

/// The root plus `count` files named f0, f1, ... with inode numbers 1000+i.
@discardableResult
func populate(_ cache: DirectoryCache, files count: Int, under parent: NodeID = .root, firstInode: UInt64 = 1000,
              prefix: String = "f", entryTimeout: Double = 3600) throws -> [NodeID] {
    try (0..<count).map { i in
        let n = firstInode + UInt64(i)
        let inode = try cache.insert(parent: parent, name: name("\(prefix)\(i)"), identity: identity(n),
                                     handle: handle(n), attributes: attributes(n), entryTimeout: entryTimeout,
                                     attributeTimeout: entryTimeout)
        defer { inode.release() }
        return inode.nodeID
    }
}

func makeRoot(_ cache: DirectoryCache) throws {
    let root = try cache.insertRoot(identity: identity(1), handle: handle(1), attributes: attributes(1, directory: true))
    root.release()
}

func expectHit(_ result: LookupResult) -> InodeReference? {
    if case .hit(let inode) = result { return inode }
    return nil
}

extension DirectoryCache {
    /// Reclaims until a pass frees nothing: each page pass frees only a few
    /// unused objects per slab that has objects in use (circulation).
    func drain() {
        for _ in 0..<1_000 {
            let report = reclaim(pages: Int.max)
            if report.pagesFreed == 0 && report.evicted == 0 { return }
        }
    }

    /// Whether the node is cached, without keeping a reference.
    func isCached(_ id: NodeID) -> Bool {
        guard let inode = inode(id) else { return false }
        inode.release()
        return true
    }
}
