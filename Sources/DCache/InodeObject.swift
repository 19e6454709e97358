import CSlabSupport
import Slab

/// The raw layout of an inode object (96 bytes, 42 to a 4 KiB page):
///
///     0  count u32 (atomic)     4  flags u32 (atomic, below)
///     8  node id u32           12  kernel lookup count u32 (saturating)
///    16  stable references u32 20  attributes valid until (Clock ticks)
///    24  backing inode u64
///    32  backing device u32    36  nlink u32
///    40  uid u32               44  gid u32
///    48  size u64 (a device node's rdev: it has no size)
///    56  blocks: bits 0-47, st_mode: bits 48-63 (16 bits on Linux)
///    64  atime i64             72  mtime i64            80  ctime i64 (ns)
///    88  handle: 8 bytes inline (ext4's, xfs's, btrfs's without parent),
///        or the address of a long-handle object (type, length, bytes)
///
/// The count and flags word are the `ObjectHeader`'s: an inline handle's
/// length is its nibble, the handle's type (`inlineType`) its byte. The
/// generation is not here: the node table keeps it per id.
///
/// Fields other than the header are read and written under the node-table
/// stripe of the inode's id, except the immutable identity (node id,
/// backing identity, handle), which a holder of any reference may read.
struct InodeObject: HeaderedObject, Hashable, @unchecked Sendable {
    static let size = 96
    static let inlineHandleBytes = 8
    /// A long-handle object: type i32, length u32, then the bytes.
    static let longHandleObjectSize = 8 + BackingFileHandle.maximumLength

    let raw: UnsafeMutableRawPointer

    init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    // MARK: Flags (beside the header's referenced and onLRU)

    static let longHandle = ObjectHeader.kindFlag0
    /// Its last name is gone from the backing directory: free it as soon as
    /// nothing holds it (the kernel's iput of an inode with nlink 0).
    static let unlinked = ObjectHeader.kindFlag1

    // MARK: Identity

    var nodeID: NodeID {
        get { NodeID(UInt64(raw.load(fromByteOffset: 8, as: UInt32.self))) }
        nonmutating set { raw.storeBytes(of: UInt32(newValue.rawValue), toByteOffset: 8, as: UInt32.self) }
    }
    var identity: BackingIdentity {
        BackingIdentity(device: UInt64(raw.load(fromByteOffset: 32, as: UInt32.self)),
                        inode: raw.load(fromByteOffset: 24, as: UInt64.self))
    }

    // MARK: References

    /// The kernel's lookup count. Kept in 32 bits: once it reaches
    /// UInt32.max it stays there (forgets no longer lower it), so the inode
    /// is held for good rather than freed while the kernel may know it.
    var kernelLookups: UInt32 {
        get { raw.load(fromByteOffset: 12, as: UInt32.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 12, as: UInt32.self) }
    }
    var stable: UInt32 {
        get { raw.load(fromByteOffset: 16, as: UInt32.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 16, as: UInt32.self) }
    }

    // MARK: Attributes

    static func isDeviceNode(_ mode: UInt32) -> Bool {
        let type = mode & 0o170000
        return type == 0o020000 || type == 0o060000
    }

    /// Whether `attributes` fit this layout. Those that do not (a mode above
    /// 16 bits, a device node with a size, a device number above 32 bits
    /// is already refused) are stored as far as they fit and never served
    /// from the cache: `storeAttributes` marks them expired.
    static func fits(_ attributes: InodeAttributes) -> Bool {
        attributes.mode <= 0xffff && attributes.blocks <= blocksMask && (isDeviceNode(attributes.mode) ? attributes.size == 0 : attributes.rdev == 0)
    }

    private static let blocksMask: UInt64 = 1 << 48 - 1

    var attributes: InodeAttributes {
        var a = InodeAttributes()
        let blocksAndMode = raw.load(fromByteOffset: 56, as: UInt64.self)
        a.mode = UInt32(blocksAndMode >> 48)
        a.nlink = raw.load(fromByteOffset: 36, as: UInt32.self)
        a.uid = raw.load(fromByteOffset: 40, as: UInt32.self)
        a.gid = raw.load(fromByteOffset: 44, as: UInt32.self)
        let sizeOrDevice = raw.load(fromByteOffset: 48, as: UInt64.self)
        if Self.isDeviceNode(a.mode) { a.rdev = UInt32(truncatingIfNeeded: sizeOrDevice) } else { a.size = sizeOrDevice }
        a.blocks = blocksAndMode & Self.blocksMask
        a.atime = raw.load(fromByteOffset: 64, as: Int64.self)
        a.mtime = raw.load(fromByteOffset: 72, as: Int64.self)
        a.ctime = raw.load(fromByteOffset: 80, as: Int64.self)
        return a
    }

    /// Stores the attributes and their expiry (0 if they do not fit).
    func storeAttributes(_ a: InodeAttributes, expiry: UInt32) {
        raw.storeBytes(of: a.nlink, toByteOffset: 36, as: UInt32.self)
        raw.storeBytes(of: a.uid, toByteOffset: 40, as: UInt32.self)
        raw.storeBytes(of: a.gid, toByteOffset: 44, as: UInt32.self)
        raw.storeBytes(of: Self.isDeviceNode(a.mode) ? UInt64(a.rdev) : a.size, toByteOffset: 48, as: UInt64.self)
        raw.storeBytes(of: a.blocks & Self.blocksMask | UInt64(a.mode & 0xffff) << 48, toByteOffset: 56, as: UInt64.self)
        raw.storeBytes(of: a.atime, toByteOffset: 64, as: Int64.self)
        raw.storeBytes(of: a.mtime, toByteOffset: 72, as: Int64.self)
        raw.storeBytes(of: a.ctime, toByteOffset: 80, as: Int64.self)
        attributesExpiry = Self.fits(a) ? expiry : 0
    }

    var attributesExpiry: UInt32 {
        get { raw.load(fromByteOffset: 20, as: UInt32.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 20, as: UInt32.self) }
    }

    // MARK: Handle

    /// The byte an inline handle's type is kept in: types 0-254 as they are
    /// (every filesystem's FILEID_* type), and 255 (FILEID_INVALID, never a
    /// real handle's) for Int32.min, the type SlabFS gives an inode that has
    /// no handle. Any other type goes to a long-handle object.
    static func inlineType(_ type: Int32) -> UInt32? {
        if type == Int32.min { return 255 }
        return type >= 0 && type < 255 ? UInt32(type) : nil
    }

    /// Whether this handle needs a long-handle object.
    static func needsLongHandle(_ handle: BackingFileHandle) -> Bool {
        handle.bytes.count > inlineHandleBytes || inlineType(handle.type) == nil
    }

    var longHandleObject: UnsafeMutableRawPointer? {
        flags & InodeObject.longHandle != 0 ? raw.load(fromByteOffset: 88, as: UnsafeMutableRawPointer.self) : nil
    }
    /// The handle's type alone, without copying its bytes out.
    var handleType: Int32 {
        if let long = longHandleObject { return long.load(as: Int32.self) }
        let type = header.byte
        return type == 255 ? Int32.min : Int32(type)
    }

    var handle: BackingFileHandle {
        if let long = longHandleObject {
            let length = Int(long.load(fromByteOffset: 4, as: UInt32.self))
            return BackingFileHandle(type: long.load(as: Int32.self),
                                     bytes: Array(UnsafeRawBufferPointer(start: long + 8, count: length)))
        }
        return BackingFileHandle(type: handleType,
                                 bytes: Array(UnsafeRawBufferPointer(start: raw + 88, count: Int(header.nibble))))
    }

    /// Fills a fresh object. `longHandle` is a long-handle object when
    /// `needsLongHandle(handle)`. The count stays 0: the caller publishes.
    func initialize(nodeID: NodeID, identity: BackingIdentity, handle: BackingFileHandle,
                    longHandle: UnsafeMutableRawPointer?, attributes: InodeAttributes, expiry: UInt32) {
        precondition(nodeID.rawValue <= NodeTable.maximumID, "DCache: node id \(nodeID) above 32 bits")
        (raw + 8).initializeMemory(as: UInt8.self, repeating: 0, count: InodeObject.size - 8)
        if let longHandle {
            header.initialize(flags: InodeObject.longHandle)
            longHandle.storeBytes(of: handle.type, as: Int32.self)
            longHandle.storeBytes(of: UInt32(handle.bytes.count), toByteOffset: 4, as: UInt32.self)
            handle.bytes.withUnsafeBytes { if $0.count > 0 { (longHandle + 8).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
            raw.storeBytes(of: longHandle, toByteOffset: 88, as: UnsafeMutableRawPointer.self)
        } else {
            header.initialize(flags: 0, nibble: UInt32(handle.bytes.count), byte: InodeObject.inlineType(handle.type)!)
            handle.bytes.withUnsafeBytes { if $0.count > 0 { (raw + 88).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        }
        self.nodeID = nodeID
        raw.storeBytes(of: identity.inode, toByteOffset: 24, as: UInt64.self)
        raw.storeBytes(of: UInt32(identity.device), toByteOffset: 32, as: UInt32.self)
        storeAttributes(attributes, expiry: expiry)
    }

    /// Copies everything but the count into a free slot (a move).
    func copy(to destination: InodeObject) {
        header.copyFlags(to: destination.header)
        (destination.raw + ObjectHeader.size).copyMemory(from: raw + ObjectHeader.size,
                                                         byteCount: InodeObject.size - ObjectHeader.size)
    }
}
