import DCache
import Glibc
import Slab
import SystemPackage

/// A few O_PATH descriptors of recently used backing directories, so that
/// the requests of a busy directory (lookups, creates, unlinks: each an *at
/// call relative to it) do not open it by handle and close it again every
/// time: that pair was half the system calls of a create.
///
/// Bounded (`capacity`, far below the descriptor limit), so a cached inode
/// still holds no descriptor of its own. An entry is keyed by node id and
/// generation, which name one inode object for its whole life: a node id
/// reused for another inode never reaches the old directory. A descriptor
/// follows its directory through renames; one of a directory removed behind
/// the mount fails its *at calls with ENOENT, as a stale handle would.
///
/// Eviction is a clock over the slots: a slot used since the hand last
/// passed gets a second chance. A descriptor in use is never closed under
/// its user: eviction or `forget` marks it, and the last user closes it.
final class DirectoryDescriptors: Sendable {
    static let defaultCapacity = 64

    private struct Slot {
        var node: NodeID
        var generation: UInt64
        var descriptor: CInt
        var users: Int
        var referenced: Bool
        /// Evicted or forgotten while in use: the last user closes it.
        var doomed: Bool
    }

    private struct State {
        var slots: [Slot] = []
        var index: [NodeID: Int] = [:]
        var hand = 0
    }

    private let state = Locked(State())
    let capacity: Int

    init(capacity: Int = DirectoryDescriptors.defaultCapacity) {
        self.capacity = max(1, capacity)
    }

    /// Calls `body` with a descriptor of the directory `inode`, cached or
    /// opened with `open` (and then cached, if a slot can be had).
    func withDescriptor<R>(for inode: InodeReference, open: () throws -> FileDescriptor,
                           _ body: (FileDescriptor) throws -> R) throws -> R {
        try withDescriptor(node: inode.nodeID, generation: inode.generation, open: open, body)
    }

    /// The same, by node id and generation.
    func withDescriptor<R>(node: NodeID, generation: UInt64, open: () throws -> FileDescriptor,
                           _ body: (FileDescriptor) throws -> R) throws -> R {
        if let slot = take(node, generation) {
            defer { give(back: slot.position, descriptor: slot.descriptor) }
            return try body(FileDescriptor(rawValue: slot.descriptor))
        }
        let opened = try open()
        let position = adopt(opened.rawValue, node: node, generation: generation)
        defer {
            if let position { give(back: position, descriptor: opened.rawValue) } else { try? opened.close() }
        }
        return try body(opened)
    }

    /// Closes the descriptor of `node`, if one is cached (its directory was
    /// removed, or the inode left the cache).
    func forget(_ node: NodeID) {
        let closing: CInt? = state.withLock { state in
            guard let position = state.index.removeValue(forKey: node) else { return nil }
            return Self.vacate(&state.slots[position])
        }
        if let closing { try? FileDescriptor(rawValue: closing).close() }
    }

    /// How many descriptors are open now (statistics and tests).
    var openCount: Int { state.withLock { $0.slots.count(where: { $0.descriptor >= 0 }) } }

    // MARK: Slots

    private func take(_ node: NodeID, _ generation: UInt64) -> (position: Int, descriptor: CInt)? {
        let (taken, stale): ((Int, CInt)?, CInt?) = state.withLock { state in
            guard let position = state.index[node] else { return (nil, nil) }
            guard state.slots[position].generation == generation else {
                // The node id now names another inode: drop the old one's.
                state.index[node] = nil
                return (nil, Self.vacate(&state.slots[position]))
            }
            state.slots[position].users += 1
            state.slots[position].referenced = true
            return ((position, state.slots[position].descriptor), nil)
        }
        if let stale { try? FileDescriptor(rawValue: stale).close() }
        return taken
    }

    /// Puts a freshly opened descriptor in a slot, in use once; nil if every
    /// slot is busy (the caller closes it after use).
    private func adopt(_ descriptor: CInt, node: NodeID, generation: UInt64) -> Int? {
        let (position, closing): (Int?, CInt?) = state.withLock { state in
            if state.index[node] != nil { return (nil, nil) }  // another thread cached it first
            let fresh = Slot(node: node, generation: generation, descriptor: descriptor, users: 1,
                             referenced: true, doomed: false)
            if state.slots.count < capacity {
                state.slots.append(fresh)
                state.index[node] = state.slots.count - 1
                return (state.slots.count - 1, nil)
            }
            // Two sweeps of the clock: the first may only clear referenced bits.
            for _ in 0..<(2 * state.slots.count) {
                let position = state.hand
                state.hand = (state.hand + 1) % state.slots.count
                let slot = state.slots[position]
                if slot.descriptor >= 0 && (slot.users > 0 || slot.doomed) { continue }
                if slot.referenced {
                    state.slots[position].referenced = false
                    continue
                }
                var closing: CInt?
                if slot.descriptor >= 0 {
                    state.index[slot.node] = nil
                    closing = slot.descriptor
                }
                state.slots[position] = fresh
                state.index[node] = position
                return (position, closing)
            }
            return (nil, nil)
        }
        if let closing { try? FileDescriptor(rawValue: closing).close() }
        return position
    }

    private func give(back position: Int, descriptor: CInt) {
        let closing: Bool = state.withLock { state in
            state.slots[position].users -= 1
            guard state.slots[position].doomed, state.slots[position].users == 0 else { return false }
            state.slots[position].doomed = false
            state.slots[position].descriptor = -1
            return true
        }
        if closing { try? FileDescriptor(rawValue: descriptor).close() }
    }

    /// Empties a slot that is off the index: returns the descriptor to close
    /// now, or nil if a user still has it (it is doomed, and the last user
    /// closes it).
    private static func vacate(_ slot: inout Slot) -> CInt? {
        guard slot.descriptor >= 0 else { return nil }
        if slot.users > 0 {
            slot.doomed = true
            return nil
        }
        defer { slot.descriptor = -1 }
        return slot.descriptor
    }
}
