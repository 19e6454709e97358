import DCache
import Slab

/// Where directories were last seen: the parent's node id and the name, for
/// the directories looked up or made lately. A bounded table of hints, not a
/// second dentry cache: what it says is checked at each use.
///
/// Why: opening a directory by its file handle, once the backing kernel has
/// dropped its dentry, reconnects that dentry to the root, and the kernel
/// finds the name by reading the whole parent (exportfs get_name). Measured
/// here on ext4 after drop_caches: 45 us for a directory among 100, 3.6 ms
/// among 20,000, against 10 to 15 us for openat by name. Memory pressure on
/// the host drops those dentries as a matter of course, so OPENDIR and the
/// directory descriptors of lookups and creates open by name when they can
/// (`FileSystem.openDirectory`), and by handle when the name fails.
///
/// An inode keeps no link to its dentries (DCache's choice: 16 bytes an
/// inode), hence this table, for directories only, bounded by `capacity`:
/// when it is full a new place pushes out an arbitrary old one, which then
/// costs an open by handle again.
final class DirectoryPlaces: Sendable {
    static let defaultCapacity = 4096

    struct Place: Sendable {
        let parent: NodeID
        let name: BackingName
    }

    private let table = Locked([NodeID: Place]())
    let capacity: Int

    init(capacity: Int = DirectoryPlaces.defaultCapacity) {
        self.capacity = max(1, capacity)
    }

    /// Notes that directory `node` is `name` in `parent`.
    func note(_ node: NodeID, parent: NodeID, name: BackingName) {
        table.withLock { table in
            if let known = table[node], known.parent == parent, known.name == name { return }
            if table[node] == nil && table.count >= capacity { table.remove(at: table.startIndex) }
            table[node] = Place(parent: parent, name: name)
        }
    }

    /// Where directory `node` was last seen, if it is noted.
    func place(of node: NodeID) -> Place? {
        table.withLock { $0[node] }
    }

    /// Drops what is noted of `node` (removed, or renamed).
    func forget(_ node: NodeID) {
        table.withLock { _ = $0.removeValue(forKey: node) }
    }

    /// Places noted now (tests).
    var count: Int { table.withLock { $0.count } }
}
