import LoadGenerators
import DCache
import Slab
import Synchronization
import Testing

@Suite("Concurrent lookups, inserts, removes and renames while reclaim and compaction run")
struct ConcurrencyTests {
    @Test("every lookup result is right: nothing stale, freed or half-moved", arguments: ["page", "lru"])
    func everyLookupIsRight(policy: String) throws {
        let cache = try makeRootedCache { $0.eviction = DirectoryCache.EvictionPolicy(rawValue: policy)! }
        let directories = 8
        var dirIDs: [NodeID] = []
        for d in 0..<directories {
            let dir = try cache.insert(parent: .root, name: name("d\(d)"), identity: identity(100 + UInt64(d)),
                                       handle: handle(100 + UInt64(d)), attributes: attributes(100, directory: true),
                                       entryTimeout: 3600, attributeTimeout: 3600)
            cache.kernelLookup(dir)  // the kernel holds every directory
            dirIDs.append(dir.nodeID)
            dir.release()
        }
        let dirs = dirIDs
        let keys: UInt64 = 4_000
        let workers = 3
        let operations = 40_000
        let wrong = Atomic<Int>(0)
        let hits = Atomic<Int>(0)
        let seed = UInt64.random(in: 1...UInt64.max)
        print("dcache concurrency seed \(seed), policy \(policy)")

        runWorkers(workers, seed: seed, whileRepeating: { random in
            if random.next() % 2 == 0 {
                cache.reclaim(pages: Int(random.next() % 64) + 1)
            } else {
                cache.compact()
            }
        }) { _, random in
            var kernelHeld: [NodeID: UInt64] = [:]
            for _ in 0..<operations {
                let key = random.next() % keys
                let home = Int(key) % directories
                let dir = dirs[random.next() % 2 == 0 ? home : (home + 1) % directories]
                let n = 10_000 + key
                switch random.next() % 10 {
                case 0..<5:
                    guard case .hit(let inode) = cache.lookup(parent: dir, name: name("n\(key)")) else { continue }
                    hits.add(1, ordering: .relaxed)
                    if inode.identity != identity(n) || Array(inode.handle.bytes.prefix(8)) != handle(n).bytes {
                        wrong.add(1, ordering: .relaxed)
                    }
                    if cache.attributes(of: inode).attributes.size != n { wrong.add(1, ordering: .relaxed) }
                    if random.next() % 4 == 0 {
                        cache.kernelLookup(inode)
                        kernelHeld[inode.nodeID, default: 0] += 1
                    }
                    inode.release()
                case 5..<7:
                    guard let inode = try? cache.insert(parent: dir, name: name("n\(key)"), identity: identity(n),
                                                        handle: handle(n, long: key % 5 == 0), attributes: attributes(n),
                                                        entryTimeout: 3600, attributeTimeout: 3600) else { continue }
                    if inode.identity != identity(n) { wrong.add(1, ordering: .relaxed) }
                    inode.release()
                case 7:
                    cache.remove(parent: dir, name: name("n\(key)"), negativeTimeout: key % 2 == 0 ? 10 : 0)
                case 8:
                    let other = dirs[(Int(key) + 1) % directories]
                    cache.rename(from: (dirs[home], name("n\(key)")), to: (other, name("n\(key)")),
                                 exchange: false, entryTimeout: 3600)
                default:
                    if let (id, count) = kernelHeld.first {
                        cache.forget(id, count: count)
                        kernelHeld[id] = nil
                    }
                }
            }
            for (id, count) in kernelHeld { cache.forget(id, count: count) }
        }

        #expect(wrong.load(ordering: .relaxed) == 0)
        #expect(hits.load(ordering: .relaxed) > 0)
        let stats = cache.statistics()
        #expect(stats.kernelHeldInodes == directories)
        if policy == "page" { #expect(stats[.moves] > 0) }
        for slabCache in cache.slabCaches { slabCache._checkInvariants() }
        #expect(cache._invariantViolations() == [])
        // With every file forgotten and every name dropped, all but the
        // root and the directories can go.
        for dir in dirs {
            for key in 0..<keys { cache.invalidate(parent: dir, name: name("n\(key)")) }
        }
        cache.drain()
        #expect(cache._invariantViolations() == [])
        #expect(cache.statistics().inodes == 1 + directories)
    }
}
