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
        /// The listing state of an open directory.
        let directory: OpenDirectory?

        var descriptor: FileDescriptor { FileDescriptor(rawValue: rawDescriptor) }
    }

    private struct Table {
        var entries: [Entry?] = [nil]
        var free: [Int] = []
        var open = 0
    }

    private let table = Locked(Table())

    func insert(_ entry: Entry) -> UInt64 {
        table.withLock { table in
            table.open += 1
            if let index = table.free.popLast() {
                table.entries[index] = entry
                return UInt64(index)
            }
            table.entries.append(entry)
            return UInt64(table.entries.count - 1)
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
            return entry
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
