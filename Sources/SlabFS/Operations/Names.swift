import CFuse
import DCache
import Glibc
import SystemPackage

// MKNOD, UNLINK, SYMLINK, READLINK, RENAME and LINK. Each opens the
// parent directory from its handle (as the daemon), makes the *at call on
// the name as the caller, and brings the cache up to date.

func slabfsMknod(_ request: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?, _ mode: mode_t,
                 _ device: dev_t) {
    serve(request) { fs in
        let name = try entryName(name)
        try fs.make(name, in: parent, caller: Caller(request, fs), request: request) {
            (directory: FileDescriptor) throws(Errno) in
            try directory.makeNode(name, mode: FileMode(rawValue: mode), device: DeviceID(rawValue: device))
        }
    }
}

func slabfsUnlink(_ request: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?) {
    removeEntry(request, parent, name) { (directory, name) throws(Errno) in try directory.remove(name) }
}

/// UNLINK and RMDIR: `remove` runs on the parent's backing directory.
func removeEntry(_ request: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?,
                 _ remove: (FileDescriptor, BackingName) throws(Errno) -> Void) {
    serve(request) { fs in
        let name = try entryName(name)
        try fs.removeName(name, in: parent, caller: Caller(request, fs)) {
            (directory: FileDescriptor) throws(Errno) in
            try remove(directory, name)
        }
        fuse_reply_err(request, 0)
    }
}

func slabfsSymlink(_ request: fuse_req_t?, _ target: UnsafePointer<CChar>?, _ parent: fuse_ino_t,
                   _ name: UnsafePointer<CChar>?) {
    serve(request) { fs in
        let name = try entryName(name)
        guard let target else { throw Errno.invalidArgument }
        let bytes = UnsafeRawBufferPointer(start: target, count: strlen(target))
        try fs.make(name, in: parent, caller: Caller(request, fs), request: request) {
            (directory: FileDescriptor) throws(Errno) in
            try directory.makeSymbolicLink(name, target: bytes)
        }
    }
}

func slabfsReadlink(_ request: fuse_req_t?, _ node: fuse_ino_t) {
    serve(request) { fs in
        let target = try fs.withInode(node) { inode in try fs.withPath(inode) { try $0.readLink() } }
        let cTarget = target.map { CChar(bitPattern: $0) } + [0]
        cTarget.withUnsafeBufferPointer { _ = fuse_reply_readlink(request, $0.baseAddress) }
    }
}

func slabfsRename(_ request: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?,
                  _ newParent: fuse_ino_t, _ newName: UnsafePointer<CChar>?, _ flags: UInt32) {
    serve(request) { fs in
        let name = try entryName(name), newName = try entryName(newName)
        let flags = RenameFlags(rawValue: flags)
        guard flags.isSubset(of: [.noReplace, .exchange, .whiteout]) else { throw Errno.invalidArgument }
        let caller = Caller(request, fs)
        try fs.withInode(parent) { from in
            try fs.withInode(newParent) { to in
                let moved = fs.cache.cachedChild(of: from.nodeID, name: name.bytes)
                let replaced = fs.cache.cachedChild(of: to.nodeID, name: newName.bytes)
                try fs.withPath(from, directory: true) { source in
                    let rename = { (target: FileDescriptor) throws(Errno) in
                        try caller.run { () throws(Errno) in
                            try source.rename(name, to: target, as: newName, flags: flags)
                        }
                    }
                    if from.nodeID == to.nodeID {
                        try rename(source)
                    } else {
                        try fs.withPath(to, directory: true) { try rename($0) }
                    }
                }
                fs.cache.rename(from: (from.nodeID, name.bytes), to: (to.nodeID, newName.bytes),
                                exchange: flags.contains(.exchange), entryTimeout: fs.cacheTimeout)
                // Their next lookup notes where they are now.
                for node in [moved, replaced].compactMap({ $0 }) { fs.directoryPlaces.forget(node) }
                // Directory mtimes, the moved file's ctime, the replaced
                // file's link count.
                for node in [from.nodeID, to.nodeID, moved, replaced].compactMap({ $0 }) {
                    fs.cache.invalidateAttributes(node)
                }
            }
        }
        fuse_reply_err(request, 0)
    }
}

func slabfsLink(_ request: fuse_req_t?, _ node: fuse_ino_t, _ newParent: fuse_ino_t, _ newName: UnsafePointer<CChar>?) {
    serve(request) { fs in
        let newName = try entryName(newName)
        let caller = Caller(request, fs)
        try fs.withInode(node) { inode in
            try fs.withInode(newParent) { parent in
                try fs.withPath(inode) { source in
                    try fs.withPath(parent, directory: true) { directory in
                        try caller.run { () throws(Errno) in try source.link(into: directory, as: newName) }
                        fs.cache.invalidateAttributes(parent.nodeID)
                        // The same inode under a second name: the lookup
                        // finds it by identity and refreshes its link count.
                        guard let entry = try fs.lookUpBacking(newName, in: parent, directory: directory) else {
                            throw Errno.noSuchFileOrDirectory
                        }
                        fs.replyEntry(request, entry)
                    }
                }
            }
        }
    }
}

extension FileSystem {
    /// Negative dentries last as long as positive ones, if we keep any.
    var negativeTimeout: Double { cache.negativeLimit > 0 ? cacheTimeout : 0 }

    /// Creates `name` in `parent` with `create` (called as the caller on
    /// the parent's descriptor), then looks it up and replies with it.
    func make(_ name: BackingName, in parent: fuse_ino_t, caller: Caller, request: fuse_req_t?,
              _ create: (FileDescriptor) throws(Errno) -> Void) throws {
        try withInode(parent) { parent in
            try withPath(parent, directory: true) { directory in
                try caller.run { () throws(Errno) in try create(directory) }
                cache.invalidateAttributes(parent.nodeID)
                guard let entry = try lookUpBacking(name, in: parent, directory: directory) else {
                    throw Errno.noSuchFileOrDirectory
                }
                replyEntry(request, entry)
            }
        }
    }

    /// Removes `name` from `parent` with `remove` (called as the caller),
    /// and from the cache: the dentry turns negative, the file is marked
    /// unlinked if that was its last link, and the attributes of the
    /// directory and of the file (its link count) are asked for again.
    func removeName(_ name: BackingName, in parent: fuse_ino_t, caller: Caller,
                    _ remove: (FileDescriptor) throws(Errno) -> Void) throws {
        try withInode(parent) { parent in
            let child = cache.cachedChild(of: parent.nodeID, name: name.bytes)
            do {
                try withPath(parent, directory: true) { directory in
                    try caller.run { () throws(Errno) in try remove(directory) }
                }
            } catch Errno.noSuchFileOrDirectory {
                cache.invalidate(parent: parent.nodeID, name: name.bytes)
                throw Errno.noSuchFileOrDirectory
            }
            cache.remove(parent: parent.nodeID, name: name.bytes, negativeTimeout: negativeTimeout)
            cache.invalidateAttributes(parent.nodeID)
            if let child {
                // If that was its last link, the inode goes once the kernel
                // and open files let go, not at the next reclaim.
                cache.markUnlinked(child)
                directoryDescriptors.forget(child)
                directoryPlaces.forget(child)
                cache.invalidateAttributes(child)
            }
        }
    }
}
