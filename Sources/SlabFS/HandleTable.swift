import DCache
import Glibc
import Slab
import SystemPackage

/// Open files and directories, by the id the kernel keeps in fi->fh.
///
/// Ids, not object addresses (DESIGN.md): an id the kernel sends back is
/// checked against the table, so a stale or forged one is EBADF instead of
/// a wild pointer, and the inode behind a handle stays movable (the handle
/// names it by node id). Ids start at 1 and are reused after release.
final class HandleTable: Sendable {
    struct Entry: Sendable {
        /// The open file; for a directory, its stream's (which closes it).
        let rawDescriptor: CInt
        let node: NodeID
        /// The backing file's: a node id can be reused once the kernel
        /// forgets it, and a late RELEASE may still find its old handle.
        let identity: BackingIdentity
        /// The listing state of an open directory.
        let directory: OpenDirectory?

        var descriptor: FileDescriptor { FileDescriptor(rawValue: rawDescriptor) }
    }

    private struct Table {
        var entries: [Entry?] = [nil]
        var free: [Int] = []
        var open = 0
        /// The open handles of each node.
        var byNode: [NodeID: [Int]] = [:]
    }

    private let table = Locked(Table())

    func insert(_ entry: Entry) -> UInt64 {
        table.withLock { table in
            table.open += 1
            let index: Int
            if let reused = table.free.popLast() {
                index = reused
                table.entries[index] = entry
            } else {
                index = table.entries.count
                table.entries.append(entry)
            }
            table.byNode[entry.node, default: []].append(index)
            return UInt64(index)
        }
    }

    func entry(_ id: UInt64) throws(Errno) -> Entry {
        let found: Entry? = table.withLock { table in
            id < UInt64(table.entries.count) ? table.entries[Int(id)] : nil
        }
        guard let found else { throw .badFileDescriptor }
        return found
    }

    /// The open descriptor of handle `id`.
    func descriptor(_ id: UInt64) throws(Errno) -> FileDescriptor {
        try entry(id).descriptor
    }

    /// Takes the handle out of the table; the caller closes it.
    func remove(_ id: UInt64) -> Entry? {
        table.withLock { table in
            guard id > 0, id < UInt64(table.entries.count), let entry = table.entries[Int(id)] else { return nil }
            table.entries[Int(id)] = nil
            table.free.append(Int(id))
            table.open -= 1
            if var handles = table.byNode.removeValue(forKey: entry.node) {
                handles.removeAll { $0 == Int(id) }
                if !handles.isEmpty { table.byNode[entry.node] = handles }
            }
            return entry
        }
    }

    /// A duplicate (which the caller closes) of the descriptor of a handle
    /// open on `node` for the backing file `identity`, or nil if none is.
    /// The kernel asks for security.capability by node before every write;
    /// an open file's descriptor answers it without opening the inode by
    /// handle and going through /proc. Duplicated under the lock: a release
    /// takes its handle out of the table before closing it, so the number
    /// cannot be closed and reused while it is copied.
    func duplicateDescriptor(of node: NodeID, identity: BackingIdentity) -> FileDescriptor? {
        table.withLock { table in
            guard let handles = table.byNode[node] else { return nil }
            for index in handles.reversed() {
                guard let entry = table.entries[index], entry.identity == identity else { continue }
                let copy = fcntl(entry.rawDescriptor, F_DUPFD_CLOEXEC, 0)
                return copy < 0 ? nil : FileDescriptor(rawValue: copy)
            }
            return nil
        }
    }

    /// Handles open now.
    var count: Int { table.withLock { $0.open } }
}

/// An open directory's stream. The kernel serialises readdir on one open
/// directory, but the lock makes that an invariant of ours, not an
/// assumption.
final class OpenDirectory: @unchecked Sendable {
    private let lock = Lock()
    private let stream: DirectoryStream

    init(_ stream: DirectoryStream) {
        self.stream = stream
    }

    func withStream<R, E: Error>(_ body: (DirectoryStream) throws(E) -> R) throws(E) -> R {
        try lock.withLock { () throws(E) -> R in try body(stream) }
    }
}
