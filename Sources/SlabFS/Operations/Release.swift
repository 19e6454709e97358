import CFuse
import DCache
import Glibc
import SystemPackage

// RELEASE and RELEASEDIR: an open handle's end, for files and directories.

func slabfsRelease(_ request: fuse_req_t?, _ node: fuse_ino_t, _ info: UnsafeMutablePointer<fuse_file_info>?) {
    let fs = fileSystem(request)
    if let info {
        fs.closeHandle(info.pointee.fh, writable: info.pointee.flags & O_ACCMODE != O_RDONLY)
        // A network filesystem may set the times at close; a local one
        // changed them at the writes, which invalidated them already.
        if fs.backing.reportsErrorsAtClose && info.pointee.flags & O_ACCMODE != O_RDONLY {
            fs.cache.invalidateAttributes(NodeID(node))
        }
    }
    fuse_reply_err(request, 0)
}

func slabfsReleasedir(_ request: fuse_req_t?, _ node: fuse_ino_t, _ info: UnsafeMutablePointer<fuse_file_info>?) {
    if let info { fileSystem(request).closeHandle(info.pointee.fh) }
    fuse_reply_err(request, 0)
}

extension FileSystem {
    /// Closes an open file or directory and lets its inode go. `writable`:
    /// the open could write (a reply never delivered counts as one).
    func closeHandle(_ id: UInt64, writable: Bool = true) {
        guard let entry = handles.remove(id) else { return }
        // A directory's descriptor belongs to its stream, closed with it.
        if entry.directory == nil {
            let descriptor = FileDescriptor(rawValue: entry.rawDescriptor)
            // Kept idle only where events report the file's end, and not
            // for an executable: the registration is a writable open of the
            // backing file, which an exec of it refuses (ETXTBSY).
            let keepIdle = { [cache, coherence] in
                coherence.reportsEveryChange && cache.cachedMode(of: entry.node).map { $0 & 0o111 == 0 } == true
            }
            if passthrough.release(entry.node, keepIdle: keepIdle) {
                // With events, a writable open's close makes an event of its
                // own that marks the attributes stale a moment later: an
                // fstat now would be undone (see the README).
                if writable && coherence.reportsEveryChange {
                    cache.invalidateAttributes(entry.node)
                } else {
                    noteAttributesAfterPassthrough(entry.node, descriptor)
                }
            }
            try? descriptor.close()
        }
        cache.closeHandle(entry.node)
    }

    /// The kernel may have written the file without us while it was open in
    /// passthrough: our attributes must not outlive the open (events would
    /// say so too, but not with timeouts). Read what the file is now through
    /// the descriptor at hand, one fstat, rather than leave them stale for
    /// the next lookup to read again by name (after drop_caches, a lookup
    /// in the backing directory and an open of the parent).
    private func noteAttributesAfterPassthrough(_ node: NodeID, _ descriptor: FileDescriptor) {
        let stamp = cache.attributeStamp
        guard let status = try? descriptor.statDescriptor().rawValue, let inode = cache.inode(node) else {
            cache.invalidateAttributes(node)
            return
        }
        defer { inode.release() }
        guard (try? Self.identity(of: status)) == inode.identity else {
            cache.invalidateAttributes(node)
            return
        }
        cache.setAttributes(inode, InodeAttributes(status), timeout: cacheTimeout(device: inode.identity.device),
                            observed: stamp)
    }
}
