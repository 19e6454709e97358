import CFuse
import DCache
import Glibc
import SystemPackage

// GETATTR, SETATTR, STATFS and ACCESS.

func slabfsGetattr(_ request: fuse_req_t?, _ node: fuse_ino_t, _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in
        try fs.withInode(node) { inode in
            let (cached, fresh) = fs.cache.attributes(of: inode)
            // In passthrough the kernel changes size and times without us.
            if fresh && !fs.passthrough.isOpen(inode.nodeID) {
                fs.replyAttributes(request, inode, cached)
                return
            }
            let attributes = try fs.refreshAttributes(inode, open: info.map { $0.pointee.fh }, cached: cached)
            fs.replyAttributes(request, inode, attributes)
        }
    }
}

func slabfsSetattr(_ request: fuse_req_t?, _ node: fuse_ino_t, _ attributes: UnsafeMutablePointer<stat>?,
                   _ valid: Int32, _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in
        guard let wanted = attributes?.pointee else { throw Errno.invalidArgument }
        let caller = Caller(request, fs)
        try fs.withInode(node) { inode in
            let change = { (descriptor: FileDescriptor) throws(Errno) in
                var valid = valid
                if !caller.isDaemon, valid & FUSE_SET_ATTR_MODE != 0,
                   try killsOnlySetIDBits(wanted.st_mode, current: descriptor.statDescriptor().rawValue.st_mode) {
                    // The kernel's own kill of S_ISUID/S_ISGID before a
                    // non-owner's write, truncate or chown (file_remove_privs).
                    // With default_permissions the kernel refuses a
                    // non-owner's chmod itself, so a mode change that only
                    // drops these bits reaches us from a caller who may not
                    // chmod only when the kernel forced it; as the caller the
                    // backing filesystem would say EPERM, as on no native one.
                    try descriptor.setPermissions(FilePermissions(rawValue: wanted.st_mode & 0o7777))
                    valid &= ~FUSE_SET_ATTR_MODE
                }
                try caller.run { () throws(Errno) in try setAttributes(of: descriptor, to: wanted, valid: valid) }
            }
            // An open file (ftruncate, fchmod) if the kernel names one, else
            // an O_PATH descriptor (the Backing calls go through /proc).
            if let handle = info?.pointee.fh {
                try change(try fs.handles.descriptor(handle))
            } else {
                try fs.withPath(inode) { try change($0) }
            }
            fs.cache.invalidateAttributes(inode.nodeID)
            // A new mode may allow exec (see `Passthrough.dropIdle`).
            if valid & FUSE_SET_ATTR_MODE != 0 { fs.passthrough.dropIdle(inode.nodeID) }
            fs.replyAttributes(request, inode, try fs.refreshAttributes(inode, open: info.map { $0.pointee.fh }))
        }
    }
}

/// Whether `wanted` is `current` with S_ISUID or S_ISGID cleared and
/// nothing else changed.
func killsOnlySetIDBits(_ wanted: mode_t, current: mode_t) -> Bool {
    let setID: mode_t = 0o6000
    let wanted = wanted & 0o7777, current = current & 0o7777
    return wanted != current && wanted & ~current == 0 && (current & ~wanted) & ~setID == 0
}

/// chmod, chown, truncate and utimes, in the order passthrough_hp uses.
private func setAttributes(of descriptor: FileDescriptor, to wanted: stat, valid: Int32) throws(Errno) {
    if valid & FUSE_SET_ATTR_MODE != 0 {
        try descriptor.setPermissions(FilePermissions(rawValue: wanted.st_mode & 0o7777))
    }
    if valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) != 0 {
        try descriptor.setOwner(user: valid & FUSE_SET_ATTR_UID != 0 ? UserID(rawValue: wanted.st_uid) : nil,
                                group: valid & FUSE_SET_ATTR_GID != 0 ? GroupID(rawValue: wanted.st_gid) : nil)
    }
    if valid & FUSE_SET_ATTR_SIZE != 0 {
        try descriptor.truncate(to: Int64(wanted.st_size))
    }
    if valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW) != 0 {
        func update(_ set: Int32, _ now: Int32, _ time: timespec) -> TimestampUpdate {
            if valid & now != 0 { return .now }
            if valid & set != 0 { return TimestampUpdate(time) }
            return .unchanged
        }
        try descriptor.setTimes(access: update(FUSE_SET_ATTR_ATIME, FUSE_SET_ATTR_ATIME_NOW, wanted.st_atim),
                                modification: update(FUSE_SET_ATTR_MTIME, FUSE_SET_ATTR_MTIME_NOW, wanted.st_mtim))
    }
}

func slabfsStatfs(_ request: fuse_req_t?, _ node: fuse_ino_t) {
    serve(request) { fs in
        // statfs may name any node, or 0 for the root (a kernel quirk).
        let statistics = try fs.withInode(node == 0 ? NodeID.root.rawValue : node) { inode in
            try fs.withPath(inode) { try $0.fileSystemStatistics() }
        }
        var raw = statistics.rawValue
        fuse_reply_statfs(request, &raw)
    }
}

/// With default_permissions (always on) the kernel checks access itself and
/// never sends ACCESS; should one come, the node must exist.
func slabfsAccess(_ request: fuse_req_t?, _ node: fuse_ino_t, _ mask: Int32) {
    serve(request) { fs in
        try fs.withInode(node) { _ in }
        fuse_reply_err(request, 0)
    }
}

extension FileSystem {
    /// Asks the backing file for its attributes (through the open handle if
    /// there is one) and caches them.
    /// `cached`: the stale attributes, if the caller has them (their file
    /// type is still right: a type never changes).
    func refreshAttributes(_ inode: InodeReference, open handle: UInt64?,
                           cached: InodeAttributes? = nil) throws -> InodeAttributes {
        let stamp = cache.attributeStamp
        let status: stat
        if let handle, let descriptor = try? handles.descriptor(handle) {
            status = try descriptor.statDescriptor().rawValue
        } else {
            // A directory's descriptor is likely cached (its attributes are
            // asked for after every change in it).
            status = try withPath(inode, directory: isDirectory(inode, cached: cached)) {
                try $0.statDescriptor().rawValue
            }
        }
        let attributes = InodeAttributes(status)
        cache.setAttributes(inode, attributes, timeout: cacheTimeout(device: inode.identity.device), observed: stamp)
        return attributes
    }
}
