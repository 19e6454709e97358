import DCache

/// Passthrough registrations kept after their file's last close, for its
/// next open: a fixed table of `capacity` slots in sets of four, each slot
/// 32 bytes (node, identity, backing id, age), allocated at the first use.
/// A set that is full gives up its oldest slot. Why not a dictionary and an
/// LRU list: those cost about 170 bytes per registration (buckets at 3/4
/// load, list places), 700 KB for 4,096 of them, which showed as 37 more
/// bytes of daemon memory per cached inode at 19,000 files; the table costs
/// 128 KB whatever it holds.
struct IdleRegistrations {
    static let ways = 4

    private struct Slot {
        /// 0: empty (no node has id 0).
        var node: UInt64 = 0
        var device: UInt64 = 0
        var inode: UInt64 = 0
        var id: Int32 = 0
        /// When it was stored (the table's clock): the oldest goes first.
        var age: UInt32 = 0
    }

    private var slots: [Slot] = []
    private let sets: Int
    private var clock: UInt32 = 0
    /// Registrations held now.
    private(set) var count = 0

    init(capacity: Int) {
        sets = max(0, capacity / Self.ways)  // 0: keeps none (put is never called then)
    }

    var capacity: Int { sets * Self.ways }

    private func firstSlot(of node: NodeID) -> Int {
        // Node ids come in sequence: spread them over the sets (Fibonacci hashing).
        Int(((node.rawValue &* 0x9E37_79B9_7F4A_7C15) >> 32) % UInt64(sets)) * Self.ways
    }

    func contains(_ node: NodeID) -> Bool {
        guard count > 0 else { return false }
        let first = firstSlot(of: node)
        return slots[first..<first + Self.ways].contains { $0.node == node.rawValue }
    }

    /// Takes the registration of `node` out: its backing id and the
    /// identity of the file it was made for.
    mutating func take(_ node: NodeID) -> (id: Int32, identity: BackingIdentity)? {
        guard count > 0 else { return nil }
        let first = firstSlot(of: node)
        for index in first..<first + Self.ways where slots[index].node == node.rawValue {
            let slot = slots[index]
            slots[index] = Slot()
            count -= 1
            return (slot.id, BackingIdentity(device: slot.device, inode: slot.inode))
        }
        return nil
    }

    /// Keeps the registration; returns the backing id of the one it
    /// displaced (the set's oldest), which the caller releases.
    mutating func put(_ node: NodeID, id: Int32, identity: BackingIdentity) -> Int32? {
        if slots.isEmpty { slots = Array(repeating: Slot(), count: capacity) }
        clock &+= 1
        let first = firstSlot(of: node)
        var victim = first
        for index in first..<first + Self.ways {
            if slots[index].node == 0 {
                victim = index
                break
            }
            // Ages wrap after 2^32 stores: compared as distances from now.
            if clock &- slots[index].age > clock &- slots[victim].age { victim = index }
        }
        let displaced = slots[victim].node == 0 ? nil : slots[victim].id
        if displaced == nil { count += 1 }
        slots[victim] = Slot(node: node.rawValue, device: identity.device, inode: identity.inode, id: id, age: clock)
        return displaced
    }
}
