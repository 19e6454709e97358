import CSlabSupport
import Slab

/// The raw layout of a dentry object (48 bytes, 85 to a 4 KiB page):
///
///     0  count u32 (atomic)     4  flags u32 (the `ObjectHeader`; its byte: name length)
///     8  parent node id u32    12  child node id u32 (0 for a negative dentry)
///    16  name hash u32         20  valid until (Clock ticks)
///    24  name: 24 bytes inline, or the address of a long-name object
///
/// Node ids fit 32 bits (NodeTable.maximumID). A dentry keeps its own key
/// (parent, name, hash), so reclaim and moves find its table stripe from the
/// object; the hash is kept, not recomputed, because a mover reads it before
/// it holds the object. Fields other than the count and flags change only
/// under that stripe's lock.
struct DentryObject: HeaderedObject, Hashable, @unchecked Sendable {
    static let size = 48
    static let inlineNameBytes = 24
    static let maximumNameLength = 255

    let raw: UnsafeMutableRawPointer

    init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    static let longName = ObjectHeader.kindFlag0

    var parent: NodeID { NodeID(UInt64(raw.load(fromByteOffset: 8, as: UInt32.self))) }
    /// Nil for a negative dentry (the name is known not to exist).
    var child: NodeID? {
        get {
            let id = raw.load(fromByteOffset: 12, as: UInt32.self)
            return id == 0 ? nil : NodeID(UInt64(id))
        }
        nonmutating set { raw.storeBytes(of: UInt32(newValue?.rawValue ?? 0), toByteOffset: 12, as: UInt32.self) }
    }
    var hash: UInt32 { raw.load(fromByteOffset: 16, as: UInt32.self) }
    var expiry: UInt32 {
        get { raw.load(fromByteOffset: 20, as: UInt32.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 20, as: UInt32.self) }
    }

    var nameLength: Int { Int(header.byte) }
    var longNameObject: UnsafeMutableRawPointer? {
        flags & DentryObject.longName != 0 ? raw.load(fromByteOffset: 24, as: UnsafeMutableRawPointer.self) : nil
    }
    var nameBytes: UnsafeRawBufferPointer {
        let start = longNameObject.map(UnsafeRawPointer.init) ?? UnsafeRawPointer(raw + 24)
        return UnsafeRawBufferPointer(start: start, count: nameLength)
    }
    var name: [UInt8] { Array(nameBytes) }

    func matches(parent: NodeID, name: UnsafeRawBufferPointer, hash: UInt32) -> Bool {
        self.hash == hash && self.parent == parent && nameLength == name.count
            && memcmp(nameBytes.baseAddress!, name.baseAddress!, name.count) == 0
    }

    /// The key matches and the dentry is not being freed (a dentry whose
    /// count reached 0 stays in its table until its destructor runs).
    func isLive(parent: NodeID, name: UnsafeRawBufferPointer, hash: UInt32) -> Bool {
        matches(parent: parent, name: name, hash: hash) && reference.count != 0
    }

    func initialize(parent: NodeID, name: UnsafeRawBufferPointer, hash: UInt32, child: NodeID?,
                    longName: UnsafeMutableRawPointer?, expiry: UInt32) {
        (raw + 8).initializeMemory(as: UInt8.self, repeating: 0, count: DentryObject.size - 8)
        header.initialize(flags: longName != nil ? DentryObject.longName : 0, byte: UInt32(name.count))
        raw.storeBytes(of: UInt32(parent.rawValue), toByteOffset: 8, as: UInt32.self)
        self.child = child
        raw.storeBytes(of: hash, toByteOffset: 16, as: UInt32.self)
        self.expiry = expiry
        let destination = longName ?? (raw + 24)
        if name.count > 0 { destination.copyMemory(from: name.baseAddress!, byteCount: name.count) }
        if let longName { raw.storeBytes(of: longName, toByteOffset: 24, as: UnsafeMutableRawPointer.self) }
    }

    func copy(to destination: DentryObject) {
        header.copyFlags(to: destination.header)
        (destination.raw + ObjectHeader.size).copyMemory(from: raw + ObjectHeader.size,
                                                         byteCount: DentryObject.size - ObjectHeader.size)
    }

    /// FNV-1a over the parent id and the name, then mixed: the key's hash.
    ///
    /// The mix (MurmurHash3's fmix64) is needed: FNV-1a's last multiply
    /// carries the last byte only into bits 0-17 and 40-48, so names that
    /// differ in their last character ("f000" ... "f189") shared the top
    /// bits that pick the stripe and the home slot, and piled up in long
    /// probe runs (46 probes a lookup for 100 such directories of 190).
    static func hash(parent: NodeID, name: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var p = parent.rawValue
        for _ in 0..<8 {
            h = (h ^ (p & 0xff)) &* 0x100_0000_01b3
            p >>= 8
        }
        for byte in name { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        h ^= h >> 33
        h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }
}

import Glibc
