import DCache
import LoadGenerators
import Glibc
import Slab

/// A synthetic source tree: directories of about 100 names under two levels
/// of directories, with name lengths like a source tree's (a few past the
/// 32 bytes a dentry holds inline). Deterministic for a seed.
struct SyntheticTree {
    struct Entry {
        /// Index of the parent directory entry; -1 for the root's children.
        var parent: Int32
        var name: [UInt8]
        var isDirectory: Bool
    }

    var entries: [Entry] = []

    init(entries count: Int, fanout: Int = 100, seed: UInt64) {
        var random = SplitMix64(state: seed)
        let files = count - count / fanout
        let leafDirectories = max(1, files / (fanout - 1))
        let topDirectories = max(1, Int(Double(leafDirectories).squareRoot()))
        entries.reserveCapacity(count + topDirectories)
        for i in 0..<topDirectories {
            entries.append(Entry(parent: -1, name: Self.name(&random, directory: true, unique: i), isDirectory: true))
        }
        var directories: [Int32] = []
        for i in 0..<leafDirectories {
            let parent = Int32(i % topDirectories)
            entries.append(Entry(parent: parent, name: Self.name(&random, directory: true, unique: i),
                                 isDirectory: true))
            directories.append(Int32(entries.count - 1))
        }
        var i = 0
        while entries.count < count {
            let parent = directories[i % directories.count]
            entries.append(Entry(parent: parent, name: Self.name(&random, directory: false, unique: i),
                                 isDirectory: false))
            i += 1
        }
    }

    static let syllables = ["net", "core", "mm", "fs", "drv", "io", "sched", "slab", "page", "inode", "dentry",
                            "util", "buf", "queue", "lock", "map", "tree", "hash", "list", "ctl", "dev", "irq"]
    static let suffixes = [".c", ".h", ".swift", ".rs", ".py", ".md", ".txt", ".o"]

    /// Mostly 6-20 bytes, a tail past 32 (3%), unique by a numeric part.
    static func name(_ random: inout SplitMix64, directory: Bool, unique: Int) -> [UInt8] {
        var parts = Int(random.next() % 3) + 1
        if random.next() % 100 < 3 { parts += 6 }
        var text = (0..<parts).map { _ in syllables[Int(random.next() % UInt64(syllables.count))] }
            .joined(separator: "_")
        text += "\(unique)"
        if !directory { text += suffixes[Int(random.next() % UInt64(suffixes.count))] }
        return Array(text.utf8.prefix(255))
    }
}

/// Zipf(s) over ranks 1...n by inversion of the cumulative distribution;
/// ranks map to entries through a fixed random permutation so that hot
/// entries are scattered over the slabs, as in a real tree.
struct ZipfSampler {
    private var cumulative: [Double]
    private let permutation: [Int32]

    init(count: Int, exponent: Double, seed: UInt64) {
        cumulative = [Double](repeating: 0, count: count)
        var sum = 0.0
        for rank in 0..<count {
            sum += 1 / pow(Double(rank + 1), exponent)
            cumulative[rank] = sum
        }
        for rank in 0..<count { cumulative[rank] /= sum }
        var random = SplitMix64(state: seed ^ 0x5A5A)
        var order = (0..<count).map(Int32.init)
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(random.next() % UInt64(i + 1)))
        }
        permutation = order
    }

    func sample(_ random: inout SplitMix64) -> Int {
        let u = Double(random.next() >> 11) / Double(1 << 53)
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] < u { low = mid + 1 } else { high = mid }
        }
        return Int(permutation[low])
    }
}

/// Drives a DirectoryCache the way the kernel drives slabfs: path walks from
/// the root, a miss answered by inserting what the "backing directory" holds.
struct TreeWalker {
    let tree: SyntheticTree
    let cache: DirectoryCache
    private(set) var lookups = 0
    private(set) var hits = 0

    init(tree: SyntheticTree, cache: DirectoryCache) {
        self.tree = tree
        self.cache = cache
    }

    static func identity(_ index: Int) -> BackingIdentity { BackingIdentity(device: 0x801, inode: UInt64(index) + 100) }

    static func handle(_ index: Int) -> BackingFileHandle {
        BackingFileHandle(type: 1, bytes: withUnsafeBytes(of: (UInt32(index + 100), UInt32(1))) { Array($0) })
    }

    static func attributes(_ index: Int, directory: Bool) -> InodeAttributes {
        var a = InodeAttributes()
        a.mode = directory ? 0o040755 : 0o100644
        a.nlink = directory ? 2 : 1
        a.size = UInt64(index % 65_536)
        a.mtime = 1_700_000_000_000_000_000
        return a
    }

    /// Walks to entry `index` (looking up each component, inserting misses)
    /// and returns its inode with a reference.
    mutating func walk(to index: Int) -> InodeReference {
        let entry = tree.entries[index]
        let parent: InodeReference
        if entry.parent < 0 {
            parent = cache.inode(.root)!
        } else {
            parent = walk(to: Int(entry.parent))
        }
        defer { parent.release() }
        lookups += 1
        if case .hit(let inode) = cache.lookup(parent: parent.nodeID, name: entry.name) {
            hits += 1
            return inode
        }
        do {
            return try cache.insert(parent: parent.nodeID, name: entry.name, identity: Self.identity(index),
                                    handle: Self.handle(index),
                                    attributes: Self.attributes(index, directory: entry.isDirectory),
                                    entryTimeout: 1e6, attributeTimeout: 1e6)
        } catch {
            fatalError("slabfs-bench: insert failed: \(error)")
        }
    }

    mutating func resetCounts() {
        lookups = 0
        hits = 0
    }
}
