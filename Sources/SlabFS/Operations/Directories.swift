import CFuse
import DCache
import Glibc
import SystemPackage

// MKDIR, RMDIR, OPENDIR, READDIR, READDIRPLUS and FSYNCDIR.

func slabfsMkdir(_ request: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?, _ mode: mode_t) {
    serve(request) { fs in
        let name = try entryName(name)
        try fs.make(name, in: parent, caller: Caller(request, fs), request: request) {
            (directory: FileDescriptor) throws(Errno) in
            try directory.makeDirectory(name, permissions: FilePermissions(rawValue: mode & 0o7777))
        }
    }
}

func slabfsRmdir(_ request: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?) {
    removeEntry(request, parent, name) { (directory, name) throws(Errno) in try directory.removeDirectory(name) }
}

func slabfsOpendir(_ request: fuse_req_t?, _ node: fuse_ino_t, _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in
        guard let info else { throw Errno.invalidArgument }
        try fs.withInode(node) { inode in
            let descriptor = try fs.open(inode, flags: O_RDONLY | O_DIRECTORY, as: Caller(request, fs))
            let directory = OpenDirectory(DirectoryStream(adopting: descriptor))
            let id = fs.handles.insert(.init(rawDescriptor: descriptor.rawValue, node: inode.nodeID,
                                             identity: inode.identity, directory: directory))
            fs.cache.openHandle(inode)
            info.pointee.fh = id
            // Let the kernel keep listings (it needs both bits). It drops
            // them itself when the directory changes through the mount or
            // its mtime changes; changes made behind the mount's back show
            // once the attribute timeout has passed. With the cache off,
            // keep_cache 0 also makes the kernel drop a listing kept before.
            if fs.readdirCacheEnabled.load(ordering: .relaxed) {
                info.pointee.cache_readdir = 1
                info.pointee.keep_cache = fs.cache.attributes(of: inode).fresh ? 1 : 0
            }
            if fuse_reply_open(request, info) != 0 { fs.closeHandle(id) }
        }
    }
}

func slabfsReaddir(_ request: fuse_req_t?, _ node: fuse_ino_t, _ size: Int, _ offset: off_t,
                   _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in try fs.readDirectory(request, node, size: size, offset: offset, info: info, plus: false) }
}

func slabfsReaddirplus(_ request: fuse_req_t?, _ node: fuse_ino_t, _ size: Int, _ offset: off_t,
                       _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in try fs.readDirectory(request, node, size: size, offset: offset, info: info, plus: true) }
}

func slabfsFsyncdir(_ request: fuse_req_t?, _ node: fuse_ino_t, _ dataOnly: Int32,
                    _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in
        guard let info else { throw Errno.badFileDescriptor }
        try fs.handles.descriptor(info.pointee.fh).synchronize(dataOnly: dataOnly != 0)
        fuse_reply_err(request, 0)
    }
}

extension FileSystem {
    /// One buffer of a listing, from the entry after `offset` (0, or the
    /// offset of an entry sent before). With `plus`, each entry is looked
    /// up and sent with its attributes; the kernel then holds it, counted
    /// here, except "." and ".." and the entry that does not fit.
    func readDirectory(_ request: fuse_req_t?, _ node: fuse_ino_t, size: Int, offset: off_t,
                       info: UnsafeMutablePointer<fuse_file_info>?, plus: Bool) throws {
        guard let info else { throw Errno.badFileDescriptor }
        let open = try handles.entry(info.pointee.fh)
        guard let directory = open.directory else { throw Errno.notDirectory }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 0), alignment: 8)
        defer { buffer.deallocate() }
        try withInode(node) { parent in
            var counted: [NodeID] = []
            let used = try directory.withStream { stream in
                try stream.seek(to: Int64(offset))
                return try fill(buffer, from: stream, parent: parent, request: request, plus: plus, counted: &counted)
            }
            let base = buffer.baseAddress?.assumingMemoryBound(to: CChar.self)
            if fuse_reply_buf(request, base, used) != 0 {
                for node in counted { forget(node, count: 1) }
            }
            if !counted.isEmpty { kernelDrops.noteKernelLookups() }
        }
    }

    /// Fills `buffer` with entries read in place (`nextInPlace`): a name the
    /// kernel holds already is sent on from the stream's buffer without a
    /// copy; only the names looked up are copied into a `BackingName`.
    private func fill(_ buffer: UnsafeMutableRawBufferPointer, from stream: DirectoryStream, parent: InodeReference,
                      request: fuse_req_t?, plus: Bool, counted: inout [NodeID]) throws -> Int {
        var used = 0
        let parentID = parent.nodeID
        let mayStopAsking = plus && kernelChoosesReaddirplus.load(ordering: .relaxed)
        var heldRun = 0
        // After a long run of held entries: the rest go without attributes
        // and without asking the cache, as plain entries in a plus buffer.
        var restWithoutAttributes = false
        while let entry = try nextEntry(stream, hadEntries: used > 0) {
            let space = buffer.count - used
            let start = buffer.baseAddress.map { ($0 + used).assumingMemoryBound(to: CChar.self) }
            var status = stat()
            status.st_ino = ino_t(entry.inode)
            status.st_mode = mode_t(entry.rawType) << 12
            guard plus else {
                let length = fuse_add_direntry(request, start, space, entry.cName, &status, off_t(entry.nextOffset))
                if length > space { break }
                used += length
                continue
            }
            var found: FoundEntry?
            if !entry.isDotOrDotDot {
                if restWithoutAttributes || cache.kernelHoldsChild(of: parentID, nameBytes: entry.nameBytes) {
                    // The kernel holds it already: a node id of 0 tells it
                    // the entry comes without attributes, so it adds no
                    // dentry, takes no lookup count and needs no FORGET; the
                    // entry costs it what a plain readdir's does.
                    var parameters = fuse_entry_param()
                    parameters.attr = status
                    let length = fuse_add_direntry_plus(request, start, space, entry.cName, &parameters,
                                                        off_t(entry.nextOffset))
                    if length > space { break }
                    used += length
                    // A run of entries the kernel holds: the listing gives
                    // it nothing new but costs a cache query each. The rest
                    // of this buffer goes without attributes and unasked:
                    // what the plain READDIR that follows a READDIRPLUS
                    // ended here would give, one round trip sooner (the
                    // kernel asks for later buffers with READDIR itself).
                    heldRun += 1
                    if mayStopAsking && heldRun >= Self.heldRunEndingAttributes { restWithoutAttributes = true }
                    continue
                }
                heldRun = 0
                // A copy, for the lookups (the cache keeps the name).
                let name = entry.backingName!
                do {
                    // A negative dentry is wrong about a name the listing
                    // shows: ask the backing directory then.
                    found = try lookUp(name, in: parent, directory: stream.descriptor)
                        ?? lookUpBacking(name, in: parent, directory: stream.descriptor)
                } catch {
                    // Gone since the listing was read, or unreadable: leave
                    // it out rather than fail the listing part-way.
                    if used == 0 && (error as? Errno) != .noSuchFileOrDirectory { throw error }
                    continue
                }
                if found == nil { continue }
            }
            var parameters = fuse_entry_param()
            if let found {
                parameters = entryParameters(found)
            } else {
                parameters.attr = status  // "." and "..": no node, no count
            }
            // The lookups above use the stream's descriptor, not its
            // buffer: the entry is still valid.
            let length = fuse_add_direntry_plus(request, start, space, entry.cName, &parameters,
                                                off_t(entry.nextOffset))
            guard length <= space else {
                found?.discard()
                break
            }
            used += length
            if var found {
                countKernelLookup(&found)
                counted.append(found.inode.nodeID)
                found.discard()
            }
        }
        return used
    }

    /// Entries in a row the kernel already holds after which a READDIRPLUS
    /// buffer gives no more attributes. If the kernel holds a fraction f of
    /// the entries at random, 32 given ones are all held with f^32 (4% at
    /// f = 0.9): a run that long is rare unless nearly every entry is held,
    /// so a partly cached directory still gets its attributes, and what
    /// stops early costs at most a LOOKUP for each of the few entries left.
    static let heldRunEndingAttributes = 32

    /// The stream's next entry; a read error after some entries ends the
    /// buffer instead (the kernel asks again from there).
    private func nextEntry(_ stream: DirectoryStream, hadEntries: Bool) throws -> UnsafeDirectoryEntry? {
        do {
            return try stream.nextInPlace()
        } catch {
            if hadEntries { return nil }
            throw error
        }
    }
}
