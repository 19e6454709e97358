import DCache
import Slab
import Testing

@Suite("Lookups, inserts and the tables")
struct LookupTests {
    @Test("an inserted name is found, with its node id, identity, handle and attributes")
    func insertThenLookup() throws {
        let cache = try makeRootedCache()
        let inserted = try cache.insertFile("hello.c", 42)
        let id = inserted.nodeID
        inserted.release()
        let found = try #require(expectHit(cache.lookup("hello.c")))
        defer { found.release() }
        #expect(found.nodeID == id)
        #expect(found.identity == identity(42))
        #expect(found.handle == handle(42))
        let (attrs, fresh) = cache.attributes(of: found)
        #expect(attrs == attributes(42))
        #expect(fresh)
        #expect(cache.statistics()[.hits] == 1)
    }

    @Test("a name never inserted is a miss")
    func miss() throws {
        let cache = try makeRootedCache()
        try #require(cache.lookup("nothing").isMiss, "expected a miss")
        #expect(cache.statistics()[.misses] == 1)
    }

    @Test("hard links share one inode")
    func hardLinks() throws {
        let cache = try makeRootedCache()
        let a = try populate(cache, files: 1, prefix: "a", entryTimeout: 10)
        let b = try populate(cache, files: 1, prefix: "b", entryTimeout: 10)
        #expect(a == b)
        #expect(cache.statistics().inodes == 2)
    }

    @Test("an identity found with another file handle is a new file (an inode number reused): the name gets a new inode, the old one stays for its holder")
    func reusedIdentity() throws {
        let cache = try makeRootedCache()
        let old = try cache.insertFile("old", 1000)
        let oldID = old.nodeID
        // The old file is gone behind the mount and ext4 hands its inode
        // number to a new file, whose handle (generation) differs.
        let new = try cache.insert(parent: .root, name: name("new"), identity: identity(1000), handle: handle(2000),
                                   attributes: attributes(1000), entryTimeout: 10, attributeTimeout: 10)
        defer { new.release() }
        #expect(new.nodeID != oldID)
        #expect(new.handle == handle(2000))
        #expect(old.handle == handle(1000), "the holder's inode is untouched")
        old.release()
        // The identity now leads to the new file only; a hard link to it shares its inode.
        let link = try cache.insert(parent: .root, name: name("link"), identity: identity(1000), handle: handle(2000),
                                    attributes: attributes(1000), entryTimeout: 10, attributeTimeout: 10)
        defer { link.release() }
        #expect(link.nodeID == new.nodeID)
        #expect(cache._invariantViolations().isEmpty)
    }

    @Test("long names and long file handles round-trip through their side caches")
    func longNamesAndHandles() throws {
        let cache = try makeRootedCache()
        let longName = String(repeating: "x", count: 200)
        try cache.insertFile(longName, 5, longHandle: true).release()
        let found = try #require(expectHit(cache.lookup(longName)))
        #expect(found.handle == handle(5, long: true))
        found.release()
        let stats = cache.statistics()
        #expect(stats.caches[2].activeObjects == 1)
        #expect(stats.caches[3].activeObjects == 1)
    }

    @Test("the inode's compact fields round-trip: handle types and lengths, a device node's rdev, full attributes")
    func compactInodeFields() throws {
        let cache = try makeRootedCache()
        var device = attributes(20)
        device.mode = 0o020644  // a character device: rdev kept where a size would be
        device.size = 0
        device.rdev = 0x0501
        device.uid = 1000; device.gid = 1001; device.nlink = 3; device.blocks = 8
        device.atime = -1_500_000_001; device.ctime = 1_700_000_000_123_456_789
        let handles = [BackingFileHandle(type: Int32.min, bytes: []),          // no handle: SlabFS's marker
                       BackingFileHandle(type: 0x81, bytes: Array(0..<8)),     // inline, 8 bytes
                       BackingFileHandle(type: 1, bytes: Array(0..<12)),       // tmpfs's 12: a long handle
                       BackingFileHandle(type: 0x1234, bytes: [1, 2])]         // a type above a byte: long
        for (i, handle) in handles.enumerated() {
            let inode = try cache.insert(parent: .root, name: name("c\(i)"), identity: identity(20 + UInt64(i)),
                                         handle: handle, attributes: device, entryTimeout: 10, attributeTimeout: 10)
            #expect(inode.handle == handle)
            #expect(inode.handleType == handle.type)
            let (cached, fresh) = cache.attributes(of: inode)
            #expect(cached == device && fresh)
            inode.release()
        }
        #expect(cache.statistics().caches[3].activeObjects == 2)
    }

    @Test("attributes the inode cannot hold are kept expired, so they are never served from the cache")
    func attributesThatDoNotFit() throws {
        let cache = try makeRootedCache()
        var odd = attributes(30)
        odd.mode = 0o060600  // a block device that reports a size
        odd.size = 4096
        odd.rdev = 0x0801
        let inode = try cache.insertFile("b", 30, attributes: odd)
        #expect(!cache.attributes(of: inode).fresh)
        cache.setAttributes(inode, attributes(30), timeout: 10)
        #expect(cache.attributes(of: inode) == (attributes(30), true))
        inode.release()
    }

    @Test("attributes read before an invalidation are stored stale; read after it, fresh")
    func attributesReadBeforeAChange() throws {
        let cache = try makeRootedCache()
        let inode = try cache.insertFile("f", 31)
        // A read of the backing file starts; a write through the mount
        // lands and invalidates; the read's older attributes come in.
        let before = cache.attributeStamp
        cache.invalidateAttributes(inode.nodeID)
        cache.setAttributes(inode, attributes(32), timeout: 10, observed: before)
        #expect(cache.attributes(of: inode) == (attributes(32), false))
        // So does an insert of the same file (a lookup by another name).
        let link = try cache.insertFile("g", 31, attributes: attributes(33), observed: before)
        #expect(link.nodeID == inode.nodeID && cache.attributes(of: inode) == (attributes(33), false))
        // Nothing invalidated since the stamp: fresh.
        let after = cache.attributeStamp
        cache.setAttributes(inode, attributes(34), timeout: 10, observed: after)
        #expect(cache.attributes(of: inode) == (attributes(34), true))
        try cache.insertFile("h", 31, attributes: attributes(35), observed: after).release()
        #expect(cache.attributes(of: inode) == (attributes(35), true))
        link.release()
        inode.release()
    }

    @Test("the kernel's lookup count saturates at 32 bits and then pins the inode")
    func saturatingLookups() throws {
        let cache = try makeRootedCache()
        let inode = try cache.insertFile("s", 40)
        cache.kernelLookup(inode, count: UInt64(UInt32.max) - 1)
        cache.kernelLookup(inode, count: 5)
        #expect(cache.kernelLookups(of: inode.nodeID) == UInt64(UInt32.max))
        cache.forget(inode.nodeID, count: UInt64(UInt32.max))
        #expect(cache.kernelLookups(of: inode.nodeID) == UInt64(UInt32.max))
        inode.release()
    }

    @Test("bad names are refused and change nothing")
    func badNames() throws {
        let cache = try makeRootedCache()
        for bad in [name(""), name("a/b"), [0x61, 0, 0x62], name(String(repeating: "y", count: 256))] {
            #expect(throws: DCacheError.self) {
                _ = try cache.insert(parent: .root, name: bad, identity: identity(9), handle: handle(9),
                                     attributes: attributes(9), entryTimeout: 1, attributeTimeout: 1)
            }
        }
        #expect(cache.statistics().dentries == 0)
        #expect(cache.statistics().inodes == 1)
    }

    @Test("an entry past its timeout is a miss")
    func expiry() throws {
        let cache = try makeRootedCache()
        try populate(cache, files: 1, entryTimeout: 0)
        try #require(cache.lookup("f0").isMiss, "an expired entry was served")
    }

    @Test("kernelHoldsChild on a name's bytes agrees with kernelHoldsChild on an array, case by case")
    func kernelHoldsChildOnBytes() throws {
        let cache = try makeRootedCache()
        let held = try populate(cache, files: 1, prefix: "held")[0]
        try populate(cache, files: 1, firstInode: 2000, prefix: "unheld")
        let expired = try populate(cache, files: 1, firstInode: 3000, prefix: "expired", entryTimeout: 0)[0]
        try cache.insertNegative(parent: .root, name: name("negative"), timeout: 10)
        try cache.holdInKernel([held, expired])
        // Expired, and whose inode the kernel holds: like cachedChild, the
        // query does not look at expiry.
        #expect(expectHit(cache.lookup("expired0")) == nil)
        let cases: [(String, Bool)] = [
            ("held0", true), ("unheld0", false), ("expired0", true), ("negative", false), ("absent", false),
            ("a/b", false), ("", false), (String(repeating: "x", count: 256), false),
        ]
        for (text, expected) in cases {
            let bytes = name(text)
            let onBytes = bytes.withUnsafeBytes { cache.kernelHoldsChild(of: .root, nameBytes: $0) }
            #expect(onBytes == cache.kernelHoldsChild(of: .root, name: bytes), "\(text)")
            #expect(onBytes == expected, "\(text)")
        }
        // Under another parent the same name is another dentry.
        #expect(!name("held0").withUnsafeBytes { cache.kernelHoldsChild(of: NodeID(99), nameBytes: $0) })
        // Forgotten by the kernel: no longer held.
        cache.forget(held, count: 1)
        #expect(!name("held0").withUnsafeBytes { cache.kernelHoldsChild(of: .root, nameBytes: $0) })
    }

    @Test("names removed count against the negative cap too, and a name removed again and again queues once")
    func removedNamesAreCapped() throws {
        let cache = try makeRootedCache { $0.negativeLimit = 50 }
        try populate(cache, files: 200)
        for i in 0..<200 { cache.remove(parent: .root, name: name("f\(i)"), negativeTimeout: 10) }
        #expect(cache.statistics().negativeDentries == 50)
        // One name made and removed many times: a single queued entry stays
        // live, so the queue must not keep the others.
        for round in 0..<5000 {
            let inode = try cache.insert(parent: .root, name: name("tmp"), identity: identity(9000 + UInt64(round)),
                                         handle: handle(9000), attributes: attributes(9000), entryTimeout: 10,
                                         attributeTimeout: 10)
            inode.release()
            cache.remove(parent: .root, name: name("tmp"), negativeTimeout: 10)
        }
        #expect(cache.statistics().negativeDentries <= 50)
        #expect(cache.negativeQueueLength <= 2 * 50 + 1024 + 1)
    }

    @Test("a negative dentry answers lookups of a missing name")
    func negative() throws {
        let cache = try makeRootedCache()
        try cache.insertNegative(parent: .root, name: name("missing"), timeout: 10)
        try #require(cache.lookup("missing").isNegative, "expected a negative hit")
        #expect(cache.statistics()[.negativeHits] == 1)
        #expect(cache.statistics().negativeDentries == 1)
    }

    @Test("negative dentries stay under their cap however many names are missed")
    func negativeCap() throws {
        let cache = try makeRootedCache { $0.negativeLimit = 100 }
        for i in 0..<5_000 { try cache.insertNegative(parent: .root, name: name("gone\(i)"), timeout: 10) }
        let stats = cache.statistics()
        #expect(stats.negativeDentries == 100)
        #expect(stats.dentries == 100)
        #expect(stats[.evictionsNegativeLimit] == 4_900)
        try #require(cache.lookup("gone4999").isNegative, "the newest negative dentry was evicted")
    }

    @Test("removing a name turns its dentry negative and unpins the inode")
    func removal() throws {
        let cache = try makeRootedCache()
        try populate(cache, files: 1)
        cache.remove(parent: .root, name: name("f0"), negativeTimeout: 10)
        try #require(cache.lookup("f0").isNegative, "expected a negative dentry after removal")
        cache.reclaim(pages: 100)
        #expect(cache._invariantViolations() == [])
        #expect(cache.statistics().inodes == 1)
    }

    @Test("rename moves the name; exchange swaps two names")
    func renames() throws {
        let cache = try makeRootedCache()
        let ids = try populate(cache, files: 2)
        cache.rename(from: (.root, name("f0")), to: (.root, name("g")), exchange: false, entryTimeout: 10)
        let g = try #require(expectHit(cache.lookup("g")))
        #expect(g.nodeID == ids[0])
        g.release()
        try #require(cache.lookup("f0").isMiss, "the old name still resolves")
        cache.rename(from: (.root, name("g")), to: (.root, name("f1")), exchange: true, entryTimeout: 10)
        let f1 = try #require(expectHit(cache.lookup("f1")))
        let g2 = try #require(expectHit(cache.lookup("g")))
        #expect(f1.nodeID == ids[0] && g2.nodeID == ids[1])
        f1.release()
        g2.release()
    }

    @Test("a recycled node id comes back with a new generation")
    func generations() throws {
        let cache = try makeRootedCache { $0.eviction = .lru }
        let first = try cache.insertFile("a", 10)
        let (id, generation) = (first.nodeID, first.generation)
        first.release()
        cache.invalidate(parent: .root, name: name("a"))
        cache.reclaim(pages: 1_000)
        #expect(cache._invariantViolations() == [])
        #expect(!cache.isCached(id))
        let second = try cache.insertFile("b", 11)
        defer { second.release() }
        #expect(second.nodeID == id)
        #expect(second.generation == generation + 1)
    }
}

@Suite("Describing objects")
struct DescribeTests {
    @Test("an inode and its dentry describe their slab, slot, counts and kernel lookups")
    func describe() throws {
        let cache = try makeRootedCache()
        let inode = try cache.insertFile("x.c", 9)
        cache.kernelLookup(inode, count: 3)
        let described = try #require(cache.describeInode(inode.nodeID))
        #expect(described.kernelLookups == 3)
        #expect(described.stableReferences == 2)  // the kernel, the dentry
        #expect(described.object.count == 4)  // + the cache's own, + this request
        #expect(described.object.cache == "slabfs_inode")
        #expect(described.object.address == "0x" + String(UInt(bitPattern: inode.address), radix: 16))
        inode.release()
        let dentry = try #require(cache.describeDentry(parent: .root, name: name("x.c")))
        #expect(dentry.child == inode.nodeID.rawValue)
        #expect(dentry.name == "x.c")
        #expect(dentry.object.cache == "slabfs_dentry")
        #expect(dentry.object.count == 1)
        #expect(cache.describeDentry(parent: .root, name: name("nope")) == nil)
        #expect(cache.describeInode(NodeID(999)) == nil)
    }
}

@Suite("Fragmentation maps")
struct FragmentationMapTests {
    @Test("cells show fill in ninths, blanks for pages given back, and merge slabs past the cell limit")
    func cells() {
        let map = FragmentationMap(cache: "c", objectsPerSlab: 90, fills: [90, nil, 0, 45, 1], maximumCells: 10)
        #expect(map.cells == "9 051")
        let merged = FragmentationMap(cache: "c", objectsPerSlab: 10, fills: [10, 10, nil, nil, 0, 10], maximumCells: 3)
        #expect(merged.slabsPerCell == 2)
        #expect(merged.cells == "9 5")
    }

    @Test("a populated cache maps full slabs as 9s")
    func populated() throws {
        let cache = try makeRootedCache()
        try populate(cache, files: 1024)  // 12 slabs of 85 dentries
        let maps = cache.fragmentationMaps()
        #expect(maps.map(\.cache) == ["slabfs_dentry", "slabfs_inode"])
        #expect(maps[0].cells.hasPrefix("9999999999"))
    }
}

@Suite("Backing identities")
struct IdentityTests {
    @Test("a device number beyond 32 bits is refused with an error, not a crash")
    func largeDevice() throws {
        let cache = try makeRootedCache()
        #expect(throws: DCacheError.deviceNumberTooLarge(1 << 40)) {
            _ = try cache.insert(parent: .root, name: name("x"), identity: BackingIdentity(device: 1 << 40, inode: 5),
                                 handle: handle(5), attributes: attributes(5), entryTimeout: 1, attributeTimeout: 1)
        }
        #expect(cache.statistics().dentries == 0)
    }
}
