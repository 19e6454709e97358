// The dentry and inode caches of slabfs, on the Slab allocator. No FUSE here.
//
// Objects
// -------
// Inodes (96 bytes) and dentries (48 bytes) live in reclaimable slab caches
// and start with the SLAB_RECLAIM reference count (Lameter's SLAB_RECLAIM proposal, 2006). Names longer
// than 24 bytes and file handles longer than 8 bytes live in two small
// side caches, owned by their dentry or inode. See InodeObject.swift and
// DentryObject.swift for the layouts.
//
// Finding objects
// ---------------
//   node id          -> inode    NodeTable: a direct-indexed array of slots
//   (device, inode)  -> inode    identities: striped hash table (hard links)
//   (parent, name)   -> dentry   dentries:   striped hash table
// The kernel refers to inodes by node id and to dentries by (parent, name),
// never by address, and a dentry names its child by node id. So every object
// is reachable through exactly one table slot per key, and moving an object
// means copying it and repointing those slots: compaction without eviction.
//
// References (the count at offset 0)
// ----------------------------------
// An inode's count is 1 (the cache's own) + `stable` + transient references.
// Stable references are the ones a move preserves: one while the kernel's
// lookup count is above zero, one per open handle, one per positive dentry
// naming it and one per positive child dentry under it (a dentry pins its
// parent directory). Transient references are requests in flight
// (`InodeReference`); they pin the object to its address. So an inode can
// move iff count == 1 + stable (+ the mover's own), and can be freed iff
// count == 1. A dentry's count is 1 + transient.
//
// Locks, in order
// ---------------
//   1. a dentry-table stripe
//   2. a node-table stripe
//   3. an identity-table stripe
//   4. the slab caches' own locks (inside Slab)
// A thread holds at most one stripe of each table. Reclaim and compaction
// call back into us (destructors, mobility get/kick) with no DCache lock held
// and take stripes in this order. A lookup takes its reference under the
// stripe lock, so nothing frees or moves the object between finding and
// holding it; a reader that meets a count of 0 treats the object as gone.

import Slab

/// A node id as the kernel knows it. 1 is the root.
public struct NodeID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static let root = NodeID(1)
    public static func < (a: NodeID, b: NodeID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// The backing file's identity: hard links share it, so they share an inode.
public struct BackingIdentity: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}

/// A backing file handle (name_to_handle_at): up to 128 bytes.
public struct BackingFileHandle: Hashable, Sendable {
    public static let maximumLength = 128
    public var type: Int32
    public var bytes: [UInt8]
    public init(type: Int32, bytes: [UInt8]) {
        precondition(bytes.count <= BackingFileHandle.maximumLength, "file handle longer than 128 bytes")
        self.type = type
        self.bytes = bytes
    }
}

/// The attributes FUSE's getattr answers with.
public struct InodeAttributes: Equatable, Sendable {
    public var mode: UInt32 = 0
    public var nlink: UInt32 = 0
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    public var rdev: UInt32 = 0
    public var size: UInt64 = 0
    /// 512-byte blocks, as stat reports them.
    public var blocks: UInt64 = 0
    /// Nanoseconds since the epoch.
    public var atime: Int64 = 0
    public var mtime: Int64 = 0
    public var ctime: Int64 = 0

    public init() {}

    public var isDirectory: Bool { mode & 0o170000 == 0o040000 }
}

public enum DCacheError: Error, Equatable, CustomStringConvertible {
    case outOfMemory
    case outOfNodeIDs
    case nameTooLong(Int)
    case invalidName
    case parentNotCached(NodeID)
    case invalidConfiguration(String)
    case deviceNumberTooLarge(UInt64)

    public var description: String {
        switch self {
        case .outOfMemory: return "the cache's reserved memory is exhausted"
        case .outOfNodeIDs: return "no node ids left"
        case .nameTooLong(let n): return "name of \(n) bytes is longer than 255"
        case .invalidName: return "a name must be non-empty and hold no '/' or NUL"
        case .parentNotCached(let id): return "parent node \(id) is not cached"
        case .invalidConfiguration(let what): return "invalid configuration: \(what)"
        case .deviceNumberTooLarge(let device): return "backing device number \(device) does not fit 32 bits"
        }
    }
}
