import DCache
import Glibc
import Slab
import SystemPackage

// Descriptors for an operation, made from the inode's handle and closed
// when the operation ends: a cached inode holds none.

/// O_PATH descriptors of inodes that have no file handle (the backing
/// filesystem gives none, or the entry is on another mount), by node id,
/// kept while the kernel holds the node: passthrough_hp's way, for the few
/// inodes that need it. Each remembers the identity it was opened for, so a
/// node id reused for another inode never reaches the old file.
final class PathDescriptors: Sendable {
    private struct Kept {
        var descriptor: CInt
        var identity: BackingIdentity
    }

    private let table = Locked([NodeID: Kept]())

    /// Keeps `descriptor` (which this takes over) for `node`, unless one is
    /// kept already.
    func keep(_ descriptor: FileDescriptor, for node: NodeID, identity: BackingIdentity) {
        let replaced: CInt? = table.withLock { table in
            if let kept = table[node], kept.identity == identity { return descriptor.rawValue }
            let old = table[node]?.descriptor
            table[node] = Kept(descriptor: descriptor.rawValue, identity: identity)
            return old
        }
        if let replaced { try? FileDescriptor(rawValue: replaced).close() }
    }

    /// A duplicate of the descriptor kept for the inode, which the caller
    /// closes; nil if none is kept (the kernel let go of it).
    func duplicate(for inode: InodeReference) throws(Errno) -> FileDescriptor? {
        try table.withLock { (table) throws(Errno) -> FileDescriptor? in
            guard let kept = table[inode.nodeID], kept.identity == inode.identity else { return nil }
            return try FileDescriptor(rawValue: kept.descriptor).duplicateDescriptor()
        }
    }

    /// Whether any descriptor is kept (forget_multi skips the per-node
    /// work when none is).
    var isInUse: Bool { table.withLock { !$0.isEmpty } }

    /// Closes the descriptor of a node the kernel no longer holds. `stillHeld`
    /// is asked under the table's lock, so a lookup that counts the node
    /// again meanwhile (and keeps a descriptor under the same lock) wins.
    func release(_ node: NodeID, unless stillHeld: () -> Bool) {
        let closing: CInt? = table.withLock { table in
            guard table[node] != nil, !stillHeld() else { return nil }
            return table.removeValue(forKey: node)?.descriptor
        }
        if let closing { try? FileDescriptor(rawValue: closing).close() }
    }
}

extension FileSystem {
    /// Whether the inode is reached through a kept descriptor, not a handle.
    func usesKeptDescriptor(_ inode: InodeReference) -> Bool {
        inode.handleType == Self.descriptorHandleType
    }

    private func backingHandle(_ inode: InodeReference) throws(Errno) -> BackingHandle {
        let handle = inode.handle
        guard let backingHandle = BackingHandle(type: handle.type, bytes: handle.bytes) else { throw .ioError }
        return backingHandle
    }

    /// Opens the inode's backing file from its handle. ESTALE means the file
    /// is gone (deleted or replaced behind the mount): the inode is taken out
    /// of the identity table and its attributes marked stale, so the lookup
    /// the kernel retries with (it revalidates a path on ESTALE) asks the
    /// backing directory instead of trusting the cached dentry.
    private func openByHandle(_ inode: InodeReference, _ mode: FileDescriptor.AccessMode,
                              options: FileDescriptor.OpenOptions) throws(Errno) -> FileDescriptor {
        do throws(Errno) {
            return try backing.open(try backingHandle(inode), mode, options: options)
        } catch .staleNFSFileHandle {
            markStale(inode)
            throw .staleNFSFileHandle
        }
    }

    /// Opens a directory by its name in its parent when `directoryPlaces`
    /// has it and the name still leads to this very directory (its
    /// identity); by handle otherwise. `depth` bounds the walk up through
    /// parents that must be opened the same way (stale places could form a
    /// loop).
    private func openDirectory(_ inode: InodeReference, _ mode: FileDescriptor.AccessMode,
                               options: FileDescriptor.OpenOptions, depth: Int = 0) throws(Errno) -> FileDescriptor {
        if depth < Self.directoryPlaceDepth, let place = directoryPlaces.place(of: inode.nodeID),
           let opened = try? openByPlace(place, of: inode, mode, options: options, depth: depth) {
            return opened
        }
        return try openByHandle(inode, mode, options: options)
    }

    /// Parents opened by name in a row before a handle is used instead.
    static let directoryPlaceDepth = 32

    private func openByPlace(_ place: DirectoryPlaces.Place, of inode: InodeReference,
                             _ mode: FileDescriptor.AccessMode, options: FileDescriptor.OpenOptions,
                             depth: Int) throws -> FileDescriptor? {
        let opened = try withInode(place.parent.rawValue) { parent in
            try withParentDirectory(parent, depth: depth) { directory in
                try directory.open(place.name, mode, options: options.union(.directory))
            }
        }
        let status = try? opened.statDescriptor().rawValue
        guard let status, UInt64(status.st_dev) == inode.identity.device,
              UInt64(status.st_ino) == inode.identity.inode else {
            // Renamed, removed or replaced since: the hint is wrong.
            try? opened.close()
            directoryPlaces.forget(inode.nodeID)
            return nil
        }
        return opened
    }

    /// `withPath(parent, directory: true)`, one level further up.
    private func withParentDirectory<R>(_ parent: InodeReference, depth: Int,
                                        _ body: (FileDescriptor) throws -> R) throws -> R {
        if parent.nodeID == .root || usesKeptDescriptor(parent) { return try withPath(parent, directory: true, body) }
        return try directoryDescriptors.withDescriptor(for: parent, open: {
            try openDirectory(parent, .readOnly, options: [.path, .directory], depth: depth + 1)
        }, body)
    }

    func markStale(_ inode: InodeReference) {
        cache.unhashIdentity(of: inode)
        cache.invalidateAttributes(inode.nodeID)
    }

    /// Whether the cached attributes say the inode is a directory.
    func isDirectory(_ inode: InodeReference, cached: InodeAttributes? = nil) -> Bool {
        mode_t((cached ?? cache.attributes(of: inode).attributes).mode) & S_IFMT == S_IFDIR
    }

    /// Whether the directory open as `descriptor` has been removed.
    func isRemoved(_ descriptor: FileDescriptor) -> Bool {
        (try? descriptor.statDescriptor().rawValue.st_nlink == 0) ?? false
    }

    /// Calls `body` with an O_PATH descriptor of the inode: for fstat,
    /// fchownat, the /proc path of the xattr calls, and (`directory`, which
    /// adds O_DIRECTORY: ENOTDIR for anything else) as the directory of the
    /// *at calls. The root's is borrowed; a directory's (asked for as one,
    /// or known to be one: a file type never changes) comes from
    /// `directoryDescriptors`; others are opened by handle (as the daemon:
    /// open_by_handle_at needs CAP_DAC_READ_SEARCH) and closed afterwards.
    /// ESTALE: the backing file is gone.
    func withPath<R>(_ inode: InodeReference, directory: Bool = false,
                     _ body: (FileDescriptor) throws -> R) throws -> R {
        if inode.nodeID == .root { return try body(backing.root) }
        if (directory || isDirectory(inode)) && !usesKeptDescriptor(inode) {
            return try directoryDescriptors.withDescriptor(for: inode, open: {
                try openDirectory(inode, .readOnly, options: [.path, .directory])
            }) { descriptor in
                do {
                    return try body(descriptor)
                } catch Errno.noSuchFileOrDirectory where isRemoved(descriptor) {
                    // The directory itself went behind the mount, though its
                    // cached descriptor still opens: what a handle would say.
                    directoryDescriptors.forget(inode.nodeID)
                    markStale(inode)
                    throw Errno.staleNFSFileHandle
                }
            }
        }
        let descriptor: FileDescriptor
        if usesKeptDescriptor(inode) {
            guard let kept = try pathDescriptors.duplicate(for: inode) else { throw Errno.staleNFSFileHandle }
            descriptor = kept
        } else {
            let options: FileDescriptor.OpenOptions = directory ? [.path, .directory] : .path
            descriptor = try openByHandle(inode, .readOnly, options: options)
        }
        defer { try? descriptor.close() }
        return try body(descriptor)
    }

    /// Calls `body` with a descriptor for calls on the inode itself (the
    /// extended attributes): a duplicate of an open handle's when the kernel
    /// has the file open, which costs a dup instead of an open by handle and
    /// a /proc path per call; else `withPath`'s.
    func withOpenOrPath<R>(_ inode: InodeReference, _ body: (FileDescriptor) throws -> R) throws -> R {
        guard inode.nodeID != .root, let open = handles.duplicateDescriptor(of: inode.nodeID, identity: inode.identity) else {
            return try withPath(inode, body)
        }
        defer { try? open.close() }
        return try body(open)
    }

    /// Opens the inode for I/O with open(2) `flags` (O_CREAT and O_EXCL are
    /// dropped: it exists). As the daemon, straight from the handle; as a
    /// caller (allow_other), from an O_PATH descriptor reopened through
    /// /proc with the caller's credentials, so that the backing filesystem
    /// checks the caller's permissions.
    func open(_ inode: InodeReference, flags: CInt, as caller: Caller) throws -> FileDescriptor {
        let mode = FileDescriptor.AccessMode(rawValue: flags & O_ACCMODE)
        let options = FileDescriptor.OpenOptions(rawValue: flags & ~O_ACCMODE & ~(O_CREAT | O_EXCL | O_NOCTTY))
        if caller.isDaemon && !usesKeptDescriptor(inode) && inode.nodeID != .root {
            if options.contains(.directory) { return try openDirectory(inode, mode, options: options) }
            return try openByHandle(inode, mode, options: options)
        }
        return try withPath(inode) { path in
            try caller.run { () throws(Errno) in try path.reopen(mode, options: options) }
        }
    }

    /// The attributes and identity of an open or O_PATH descriptor: a handle
    /// if the backing filesystem gives one for it, else a duplicate O_PATH
    /// descriptor the caller keeps or closes.
    func identify(_ descriptor: FileDescriptor) throws(Errno) -> (stat: stat, locator: BackingLocator) {
        let status = try descriptor.statDescriptor().rawValue
        if usesHandles {
            do throws(Errno) {
                return (status, .handle(try backing.handle(of: descriptor)))
            } catch .notSupported {
            } catch .improperLink {}
        }
        return (status, .descriptor(try descriptor.reopen(.readOnly, options: .path)))
    }
}
