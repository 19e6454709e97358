import DCache
import Glibc
import Slab
import Testing

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

/// A test cache (see `makeCache`) with its root inserted.
func makeRootedCache(_ configure: (inout DirectoryCache.Configuration) -> Void = { _ in }) throws -> DirectoryCache {
    let cache = try makeCache(configure)
    try makeRoot(cache)
    return cache
}

func expectHit(_ result: LookupResult) -> InodeReference? {
    if case .hit(let inode) = result { return inode }
    return nil
}

extension LookupResult {
    var isMiss: Bool { if case .miss = self { true } else { false } }
    var isNegative: Bool { if case .negative = self { true } else { false } }
}

extension DirectoryCache {
    /// Inserts `text` under `parent` as file number `n`: `identity(n)`,
    /// `handle(n)` and, unless given, `attributes(n)`; entry and attribute
    /// timeouts of 10 s.
    func insertFile(_ text: String, _ n: UInt64, under parent: NodeID = .root, attributes fileAttributes: InodeAttributes? = nil,
                    longHandle: Bool = false, observed: AttributeStamp? = nil) throws -> InodeReference {
        try insert(parent: parent, name: name(text), identity: identity(n), handle: handle(n, long: longHandle),
                   attributes: fileAttributes ?? DCacheTests.attributes(n), entryTimeout: 10, attributeTimeout: 10, observed: observed)
    }

    /// Looks `text` up under `parent`.
    func lookup(_ text: String, under parent: NodeID = .root) -> LookupResult {
        lookup(parent: parent, name: name(text))
    }

    /// Looks up the files `populate` named f<i>, for each index, and lets go
    /// of every hit: the lookup marks them recently used.
    func use(files indices: some Sequence<Int>) {
        for i in indices { expectHit(lookup("f\(i)"))?.release() }
    }

    /// How many of the files f<i> (for each index) a lookup still finds.
    func hits(files indices: some Sequence<Int>) -> Int {
        var found = 0
        for i in indices {
            if let hit = expectHit(lookup("f\(i)")) {
                found += 1
                hit.release()
            }
        }
        return found
    }

    /// Counts one kernel lookup of each node, as a LOOKUP reply does.
    func holdInKernel(_ ids: some Sequence<NodeID>, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for id in ids {
            let inode = try #require(self.inode(id), sourceLocation: sourceLocation)
            kernelLookup(inode)
            inode.release()
        }
    }

    /// Sets the budget to half the pages resident now and waits for the
    /// reclaim that wakes: the pages resident before, and the low watermark
    /// in pages.
    func cutBudgetToHalf() -> (resident: Int, low: Int) {
        let resident = residentPages
        budgetBytes = resident * systemPageSize / 2
        waitForReclaim()
        return (resident, Int(Double(budgetBytes) * configuration.lowWatermark) / systemPageSize)
    }

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
