import DCache
import Testing

@Suite("The object header: reclaim's second chance leaves the rest of an object alone")
struct ObjectHeaderTests {
    /// Modes and handle types that use every bit of their fields.
    static let modes: [UInt32] = [0o104755, 0o102711, 0o101777, 0o100000, 0o120777, 0o107777, 0o100644, 0o060660]
    static let handleTypes: [Int32] = [1, 2, 0x81, 0xfe, 0, 0x4d, 0x97, Int32.min]

    static func survivorAttributes(_ n: UInt64) -> InodeAttributes {
        var a = InodeAttributes()
        a.mode = modes[Int(n % UInt64(modes.count))]
        a.nlink = UInt32(n % 7) + 1
        a.uid = UInt32(n * 3)
        a.gid = UInt32(n * 5)
        if a.mode & 0o170000 == 0o060000 { a.rdev = UInt32(n) } else { a.size = n * 4096 + 17 }
        a.blocks = n * 8
        a.atime = Int64(n) * 1_000_000_007
        a.mtime = Int64(n) * 1_000_000_009
        a.ctime = Int64(n) * 1_000_000_011
        return a
    }

    static func survivorHandle(_ n: UInt64) -> BackingFileHandle {
        let type = handleTypes[Int(n % UInt64(handleTypes.count))]
        let bytes = type == Int32.min ? [] : Array(withUnsafeBytes(of: n.littleEndian) { $0 }.prefix(Int(n % 9)))
        return BackingFileHandle(type: type, bytes: bytes)
    }

    @Test("unused inodes that survive reclaim on their second chance keep mode, handle and attributes",
          arguments: [DirectoryCache.EvictionPolicy.page, .lru], [false, true])
    func secondChanceKeepsFields(eviction: DirectoryCache.EvictionPolicy, migrate: Bool) throws {
        let cache = try makeRootedCache { $0.eviction = eviction; $0.migrate = migrate }
        let count: UInt64 = 2_000
        var ids: [NodeID] = []
        for n in 0..<count {
            let inode = try cache.insert(parent: .root, name: name("s\(n)"), identity: identity(5_000 + n),
                                         handle: Self.survivorHandle(n), attributes: Self.survivorAttributes(n),
                                         entryTimeout: 3600, attributeTimeout: 3600)
            ids.append(inode.nodeID)
            inode.release()
        }
        // Every inode used (its referenced bit set), then its dentry dropped:
        // the inodes are unused, and reclaim meets them with the bit set.
        for n in 0..<count { expectHit(cache.lookup(parent: .root, name: name("s\(n)")))?.release() }
        for n in 0..<count { cache.invalidate(parent: .root, name: name("s\(n)")) }
        cache.reclaim(pages: 1)
        cache.reclaim(pages: 2)
        #expect(cache._invariantViolations() == [])
        var survivors = 0
        for (n, id) in ids.enumerated() {
            guard let inode = cache.inode(id) else { continue }
            defer { inode.release() }
            survivors += 1
            let n = UInt64(n)
            #expect(inode.identity == identity(5_000 + n))
            #expect(inode.handle == Self.survivorHandle(n), "handle of inode \(n)")
            #expect(inode.handleType == Self.survivorHandle(n).type)
            #expect(cache.attributes(of: inode).attributes == Self.survivorAttributes(n), "attributes of inode \(n)")
        }
        #expect(survivors > 0, "no inode survived: the test checks nothing")
    }
}
