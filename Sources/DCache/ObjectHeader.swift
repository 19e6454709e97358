import CSlabSupport
import Slab

/// The first eight bytes of every dentry and inode object, and the only
/// code that touches them: the reference count (u32 at offset 0, the
/// allocator's protocol: 0 free, 1 unused, more in use) and the flags word
/// (u32 at offset 4, atomic: reclaim clears bits without a lock).
///
/// The flags word, for both kinds of object:
///
///     bits  0-3   flag bits: `referenced`, `onLRU`, and two each kind owns
///     bits  4-7   a nibble the kind owns (an inode's inline handle length)
///     bits  8-15  a byte the kind owns (a dentry's name length, an inode's
///                 inline handle type)
///     bits 16-31  the reclaim epoch in which the object last spent its
///                 second chance (`spendSecondChance`)
///
/// The nibble and byte are written once, before the object is published,
/// and never change while it lives; the flag bits and the epoch change
/// atomically, each leaving the rest of the word as it was.
struct ObjectHeader: @unchecked Sendable {
    static let size = 8

    /// Used since reclaim last looked: worth a second chance.
    static let referenced: UInt32 = 1 << 0
    /// Queued on the LRU baseline's list.
    static let onLRU: UInt32 = 1 << 1
    /// The two flag bits each kind of object defines for itself.
    static let kindFlag0: UInt32 = 1 << 2
    static let kindFlag1: UInt32 = 1 << 3

    private static let flagMask: UInt32 = 0xF
    private static let epochShift: UInt32 = 16

    let raw: UnsafeMutableRawPointer

    init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    var reference: ObjectReference { ObjectReference(raw) }

    private var word: UInt32 { slab_load_u32(raw + 4, Int32(SLAB_RELAXED)) }

    // MARK: Flag bits

    var flags: UInt32 { word & Self.flagMask }

    func setFlags(_ bits: UInt32) {
        precondition(bits & ~Self.flagMask == 0, "ObjectHeader: \(bits) is not a flag bit")
        _ = slab_fetch_or_u32(raw + 4, bits)
    }

    /// Clears the bits; returns whether any was set.
    @discardableResult
    func clearFlags(_ bits: UInt32) -> Bool {
        precondition(bits & ~Self.flagMask == 0, "ObjectHeader: \(bits) is not a flag bit")
        return slab_fetch_and_u32(raw + 4, ~bits) & bits != 0
    }

    // MARK: The kind's fixed fields

    var nibble: UInt32 { (word >> 4) & 0xF }
    var byte: UInt32 { (word >> 8) & 0xFF }

    /// Writes the whole word of an object nobody else can reach yet: the
    /// flag bits, the kind's nibble and byte, epoch 0 (no chance spent).
    func initialize(flags: UInt32, nibble: UInt32 = 0, byte: UInt32 = 0) {
        precondition(flags & ~Self.flagMask == 0 && nibble <= 0xF && byte <= 0xFF, "ObjectHeader: field out of range")
        slab_store_u32(raw + 4, flags | nibble << 4 | byte << 8, Int32(SLAB_RELAXED))
    }

    /// Copies the flags word into a slot being moved into (the count is the
    /// mover's to set).
    func copyFlags(to destination: ObjectHeader) {
        slab_store_u32(destination.raw + 4, word, Int32(SLAB_RELAXED))
    }

    // MARK: Second chance

    /// The referenced bit's second chance, good for a whole reclaim call
    /// (`epoch`, never 0): a call walks the slabs in several rounds, and an
    /// object used before the call must not lose its bit in round one and
    /// its slot in round two. Spending the bit records the call's epoch; the
    /// object stays protected until the next call.
    /// Returns true if the object is to be kept.
    func spendSecondChance(epoch: UInt16) -> Bool {
        let epoch = UInt32(epoch)
        var old = word
        while true {
            if old & Self.referenced == 0 { return old >> Self.epochShift == epoch }
            let new = old & ~Self.referenced & ~(0xFFFF << Self.epochShift) | epoch << Self.epochShift
            if slab_cas_u32(raw + 4, &old, new) { return true }
        }
    }

    /// The referenced bit is set, or the call of `epoch` spent it.
    func usedSince(epoch: UInt16) -> Bool {
        let word = word
        return word & Self.referenced != 0 || word >> Self.epochShift == UInt32(epoch)
    }
}

/// A cache object on a slab page: its first 8 bytes are an `ObjectHeader`.
/// The header's accessors, written once for dentries and inodes.
protocol HeaderedObject {
    var raw: UnsafeMutableRawPointer { get }
}

extension HeaderedObject {
    var header: ObjectHeader { ObjectHeader(raw) }
    var reference: ObjectReference { header.reference }

    // The referenced bit is cleared by reclaim without a lock.
    static var referenced: UInt32 { ObjectHeader.referenced }
    static var onLRU: UInt32 { ObjectHeader.onLRU }

    var flags: UInt32 { header.flags }
    func setFlags(_ bits: UInt32) { header.setFlags(bits) }
    /// Clears the bits; returns whether any was set.
    @discardableResult
    func clearFlags(_ bits: UInt32) -> Bool { header.clearFlags(bits) }
}
