import Glibc
import CSlabSupport
import Slab

/// Node id -> inode object, by direct index: node ids are slots of this
/// table, handed out and recycled here, so finding an inode by id is an
/// array access, and moving it is one store. Each slot keeps the generation
/// its id was last issued with; reusing an id bumps it, as FUSE requires of
/// (node id, generation) pairs. The generation lives only here: the inode
/// object does not repeat it.
///
/// A slot is 8 bytes: the object's 32-bit number in the inode region
/// (`ObjectIndexer`) and the generation. Slots live in chunks mapped on
/// demand and never moved, so a slot's address is stable. Slots are read
/// and written under the stripe lock of their id (`withSlot`).
final class NodeTable: @unchecked Sendable {
    static let stripeCount = 64
    static let chunkShift = 12
    static let chunkSize = 1 << chunkShift
    static let maximumChunks = 1 << 16
    /// Ids fit 32 bits (the inode stores them so).
    static let maximumID = UInt64(maximumChunks * chunkSize - 1)

    struct RawSlot {
        var object: UInt32
        var generation: UInt32
    }

    /// A slot as its users see it: the object's address, and the generation.
    struct Slot {
        let raw: UnsafeMutablePointer<RawSlot>
        let indexer: ObjectIndexer

        var object: UnsafeMutableRawPointer? {
            get { indexer.object(raw.pointee.object) }
            nonmutating set { raw.pointee.object = newValue.map { indexer.index($0) } ?? 0 }
        }
        var generation: UInt32 {
            get { raw.pointee.generation }
            nonmutating set { raw.pointee.generation = newValue }
        }
    }

    private let indexer: ObjectIndexer
    private let locks: LockArray
    /// Chunk addresses, written once under `allocation` and read with an
    /// atomic load: an id from the kernel may name a chunk not made yet.
    private let chunks: UnsafeMutablePointer<UInt64>
    private let allocation = Locked(Allocation())

    private struct Allocation {
        var next: UInt64 = 1
        var free: [UInt64] = []
        var chunkCount = 0
    }

    private static let chunkBytes = chunkSize * MemoryLayout<RawSlot>.stride

    init(objectsOf cache: SlabCache) throws(DCacheError) {
        indexer = try ObjectIndexer(cache)
        locks = LockArray(count: NodeTable.stripeCount)
        // Zero until a chunk is made: only the pages in use become resident.
        chunks = TableMemory.allocate(bytes: NodeTable.maximumChunks * 8)
            .bindMemory(to: UInt64.self, capacity: NodeTable.maximumChunks)
    }

    deinit {
        for i in 0..<NodeTable.maximumChunks where chunks[i] != 0 {
            TableMemory.deallocate(UnsafeMutableRawPointer(bitPattern: UInt(chunks[i]))!, bytes: NodeTable.chunkBytes)
        }
        TableMemory.deallocate(chunks, bytes: NodeTable.maximumChunks * 8)
    }

    private func slotAddress(_ id: NodeID) -> UnsafeMutablePointer<RawSlot>? {
        let chunk = Int(id.rawValue >> UInt64(NodeTable.chunkShift))
        guard id.rawValue > 0, chunk < NodeTable.maximumChunks else { return nil }
        let base = slab_load_u64(chunks + chunk, Int32(SLAB_ACQUIRE))
        guard base != 0 else { return nil }
        return UnsafeMutablePointer<RawSlot>(bitPattern: UInt(base))! + Int(id.rawValue & UInt64(NodeTable.chunkSize - 1))
    }

    /// Runs `body` with the slot of `id` under its stripe lock; nil slot if
    /// the id was never issued.
    @inline(__always)
    func withSlot<R>(_ id: NodeID, _ body: (Slot?) throws -> R) rethrows -> R {
        try locks.withLock(Int(id.rawValue & UInt64(NodeTable.stripeCount - 1))) {
            try body(slotAddress(id).map { Slot(raw: $0, indexer: indexer) })
        }
    }

    /// The generation `id` was issued with (0 if never issued).
    func generation(of id: NodeID) -> UInt32 { withSlot(id) { $0?.generation ?? 0 } }

    /// A fresh id and its generation. The slot stays empty until published.
    func issue(reserving reservedID: NodeID? = nil) -> (NodeID, UInt32)? {
        let issued: UInt64? = allocation.withLock { allocation in
            let id: UInt64
            if let reserved = reservedID {
                id = reserved.rawValue
                allocation.next = max(allocation.next, id + 1)
            } else if let recycled = allocation.free.popLast() {
                id = recycled
            } else {
                id = allocation.next
                allocation.next += 1
            }
            let chunk = Int(id >> UInt64(NodeTable.chunkShift))
            guard chunk < NodeTable.maximumChunks else { return nil }
            while allocation.chunkCount <= chunk {
                // Mapped memory is zero: empty slots, generation 0.
                let memory = TableMemory.allocate(bytes: NodeTable.chunkBytes)
                slab_store_u64(chunks + allocation.chunkCount, UInt64(UInt(bitPattern: memory)), Int32(SLAB_RELEASE))
                allocation.chunkCount += 1
            }
            return id
        }
        guard let issued else { return nil }
        let id = NodeID(issued)
        let generation = withSlot(id) { $0!.generation }
        return (id, generation)
    }

    /// Gives an id back (its slot must already be empty); the next holder
    /// gets a new generation.
    func recycle(_ id: NodeID) {
        withSlot(id) { slot in
            slot!.object = nil
            slot!.generation &+= 1
        }
        allocation.withLock { $0.free.append(id.rawValue) }
    }

    /// Ids issued and not recycled, an upper bound on live inodes.
    var issuedCount: Int { allocation.withLock { Int($0.next) - 1 - $0.free.count } }

    /// Bytes of slot chunks (for per-entry accounting).
    var bytes: Int { allocation.withLock { $0.chunkCount } * NodeTable.chunkBytes }
}
