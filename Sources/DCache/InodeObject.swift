import CSlabSupport
import Slab

/// The raw layout of an inode object (128 bytes, two per cache line pair):
///
///     0  count u32 (atomic)     4  flags u32 (atomic; high byte: handle length)
///     8  node id u64
///    16  kernel lookup count u64
///    24  generation u32        28  stable references u32
///    32  backing inode u64
///    40  backing device u32    44  handle type i32
///    48  handle: 16 bytes inline, or the address of a long-handle object
///    64  size u64              72  blocks u64
///    80  atime i64             88  mtime i64            96  ctime i64 (ns)
///   104  mode u32             108  nlink u32
///   112  uid u32              116  gid u32
///   120  rdev u32             124  attributes valid until (Clock ticks)
///
/// Fields other than the count and flags are read and written under the
/// node-table stripe of the inode's id, except the immutable identity (node
/// id, generation, backing identity, handle), which a holder of any
/// reference may read.
struct InodeObject: Hashable, @unchecked Sendable {
    static let size = 128
    static let inlineHandleBytes = 16

    let raw: UnsafeMutableRawPointer

    init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    var reference: ObjectReference { ObjectReference(raw) }

    // MARK: Flags (atomic: the referenced bit is cleared by reclaim without a lock)

    static let referenced: UInt32 = 1 << 0
    static let onLRU: UInt32 = 1 << 1
    static let longHandle: UInt32 = 1 << 2
    /// Its last name is gone from the backing directory: free it as soon as
    /// nothing holds it (the kernel's iput of an inode with nlink 0).
    static let unlinked: UInt32 = 1 << 3

    var flags: UInt32 { slab_load_u32(raw + 4, Int32(SLAB_RELAXED)) }
    func setFlags(_ bits: UInt32) { _ = slab_fetch_or_u32(raw + 4, bits) }
    /// Clears the bits; returns whether any was set.
    @discardableResult
    func clearFlags(_ bits: UInt32) -> Bool { slab_fetch_and_u32(raw + 4, ~bits) & bits != 0 }

    // MARK: Identity

    var nodeID: NodeID {
        get { NodeID(raw.load(fromByteOffset: 8, as: UInt64.self)) }
        nonmutating set { raw.storeBytes(of: newValue.rawValue, toByteOffset: 8, as: UInt64.self) }
    }
    var generation: UInt32 {
        get { raw.load(fromByteOffset: 24, as: UInt32.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 24, as: UInt32.self) }
    }
    var identity: BackingIdentity {
        BackingIdentity(device: UInt64(raw.load(fromByteOffset: 40, as: UInt32.self)),
                        inode: raw.load(fromByteOffset: 32, as: UInt64.self))
    }

    // MARK: References

    var kernelLookups: UInt64 {
        get { raw.load(fromByteOffset: 16, as: UInt64.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 16, as: UInt64.self) }
    }
    var stable: UInt32 {
        get { raw.load(fromByteOffset: 28, as: UInt32.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 28, as: UInt32.self) }
    }

    // MARK: Attributes

    var attributes: InodeAttributes {
        get {
            var a = InodeAttributes()
            a.size = raw.load(fromByteOffset: 64, as: UInt64.self)
            a.blocks = raw.load(fromByteOffset: 72, as: UInt64.self)
            a.atime = raw.load(fromByteOffset: 80, as: Int64.self)
            a.mtime = raw.load(fromByteOffset: 88, as: Int64.self)
            a.ctime = raw.load(fromByteOffset: 96, as: Int64.self)
            a.mode = raw.load(fromByteOffset: 104, as: UInt32.self)
            a.nlink = raw.load(fromByteOffset: 108, as: UInt32.self)
            a.uid = raw.load(fromByteOffset: 112, as: UInt32.self)
            a.gid = raw.load(fromByteOffset: 116, as: UInt32.self)
            a.rdev = raw.load(fromByteOffset: 120, as: UInt32.self)
            return a
        }
        nonmutating set {
            raw.storeBytes(of: newValue.size, toByteOffset: 64, as: UInt64.self)
            raw.storeBytes(of: newValue.blocks, toByteOffset: 72, as: UInt64.self)
            raw.storeBytes(of: newValue.atime, toByteOffset: 80, as: Int64.self)
            raw.storeBytes(of: newValue.mtime, toByteOffset: 88, as: Int64.self)
            raw.storeBytes(of: newValue.ctime, toByteOffset: 96, as: Int64.self)
            raw.storeBytes(of: newValue.mode, toByteOffset: 104, as: UInt32.self)
            raw.storeBytes(of: newValue.nlink, toByteOffset: 108, as: UInt32.self)
            raw.storeBytes(of: newValue.uid, toByteOffset: 112, as: UInt32.self)
            raw.storeBytes(of: newValue.gid, toByteOffset: 116, as: UInt32.self)
            raw.storeBytes(of: newValue.rdev, toByteOffset: 120, as: UInt32.self)
        }
    }
    var attributesExpiry: UInt32 {
        get { raw.load(fromByteOffset: 124, as: UInt32.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 124, as: UInt32.self) }
    }

    // MARK: Handle

    var handleLength: Int { Int(flags >> 24) }
    var handleType: Int32 { raw.load(fromByteOffset: 44, as: Int32.self) }
    /// Where the handle's bytes are: inline, or in a long-handle object.
    var handleBytes: UnsafeRawPointer {
        flags & InodeObject.longHandle != 0
            ? UnsafeRawPointer(raw.load(fromByteOffset: 48, as: UnsafeMutableRawPointer.self))
            : UnsafeRawPointer(raw + 48)
    }
    var longHandleObject: UnsafeMutableRawPointer? {
        flags & InodeObject.longHandle != 0 ? raw.load(fromByteOffset: 48, as: UnsafeMutableRawPointer.self) : nil
    }
    var handle: BackingFileHandle {
        BackingFileHandle(type: handleType, bytes: Array(UnsafeRawBufferPointer(start: handleBytes, count: handleLength)))
    }

    /// Fills a fresh object. `longHandle` is a long-handle object when the
    /// handle exceeds 16 bytes. The count stays 0: the caller publishes.
    func initialize(nodeID: NodeID, generation: UInt32, identity: BackingIdentity, handle: BackingFileHandle,
                    longHandle: UnsafeMutableRawPointer?, attributes: InodeAttributes, expiry: UInt32) {
        (raw + 8).initializeMemory(as: UInt8.self, repeating: 0, count: InodeObject.size - 8)
        var flagWord = UInt32(handle.bytes.count) << 24
        if longHandle != nil { flagWord |= InodeObject.longHandle }
        slab_store_u32(raw + 4, flagWord, Int32(SLAB_RELAXED))
        self.nodeID = nodeID
        self.generation = generation
        raw.storeBytes(of: identity.inode, toByteOffset: 32, as: UInt64.self)
        raw.storeBytes(of: UInt32(identity.device), toByteOffset: 40, as: UInt32.self)
        raw.storeBytes(of: handle.type, toByteOffset: 44, as: Int32.self)
        let destination = longHandle ?? (raw + 48)
        handle.bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        if let longHandle { raw.storeBytes(of: longHandle, toByteOffset: 48, as: UnsafeMutableRawPointer.self) }
        self.attributes = attributes
        attributesExpiry = expiry
    }

    /// Copies everything but the count into a free slot (a move).
    func copy(to destination: InodeObject) {
        (destination.raw + 4).copyMemory(from: raw + 4, byteCount: InodeObject.size - 4)
    }
}
