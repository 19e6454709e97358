import CFuse
import CSlabSupport
import DCache
import Glibc
import SystemPackage

// OPEN, CREATE, READ, WRITE, FLUSH, FSYNC, FALLOCATE, LSEEK and
// COPY_FILE_RANGE. An open file is a descriptor in the handle table; data
// operations use it and change the cached attributes' freshness.

/// O_DIRECT, which Glibc's module hides.
private let directIO = LINUX_O_DIRECT

/// O_DIRECT is the caller's wish to bypass the page cache. The backing file
/// is opened without it: libfuse's buffers are not block-aligned, so the
/// backing filesystem would refuse the I/O with EINVAL. direct_io on the
/// handle keeps the kernel's page cache out of the way instead.
private func bypassPageCacheIfAsked(_ info: UnsafeMutablePointer<fuse_file_info>) {
    if info.pointee.flags & directIO != 0 { info.pointee.direct_io = 1 }
}

func slabfsOpen(_ request: fuse_req_t?, _ node: fuse_ino_t, _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in
        guard let info else { throw Errno.invalidArgument }
        try fs.withInode(node) { inode in
            let flags = info.pointee.flags
            // As the caller, even in passthrough: the caller's permissions
            // decide, and O_TRUNC truncates as they would.
            let descriptor = try fs.open(inode, flags: flags & ~directIO, as: Caller(request, fs))
            try fs.refuseIfRemovedWhileIdle(inode, descriptor)
            let backingID = fs.passthrough.open(inode.nodeID, identity: inode.identity, eligible: fs.passthroughEligible(inode)) {
                () throws(Errno) in try fs.openPassthroughBacking(inode)
            }
            if backingID == nil {
                bypassPageCacheIfAsked(info)
                // Keep what the kernel cached of the file: it holds what was
                // written through the mount, and auto_inval_data drops it when
                // a change made behind the mount shows in the attributes (as
                // for our own cache, within the cache timeout). Reading back a
                // file just written then costs no READ.
                info.pointee.keep_cache = 1
            }
            if flags & O_TRUNC != 0 { fs.cache.invalidateAttributes(inode.nodeID) }
            info.pointee.fh = fs.handles.insert(.init(rawDescriptor: descriptor.rawValue, node: inode.nodeID,
                                                      identity: inode.identity, directory: nil))
            fs.cache.openHandle(inode)
            if !fs.replyOpen(request, info, backingID: backingID) { fs.closeHandle(info.pointee.fh) }
        }
    }
}

func slabfsCreate(_ request: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?, _ mode: mode_t,
                  _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in
        guard let info else { throw Errno.invalidArgument }
        let name = try entryName(name)
        let caller = Caller(request, fs)
        try fs.withInode(parent) { parent in
            let flags = info.pointee.flags & ~directIO | O_CREAT
            let access = FileDescriptor.AccessMode(rawValue: flags & O_ACCMODE)
            let options = FileDescriptor.OpenOptions(rawValue: flags & ~O_ACCMODE & ~O_NOCTTY)
            let permissions = FilePermissions(rawValue: mode & 0o7777)
            let descriptor = try fs.withPath(parent, directory: true) { directory in
                try caller.run { () throws(Errno) in
                    try directory.open(name, access, options: options, permissions: permissions)
                }
            }
            fs.cache.invalidateAttributes(parent.nodeID)
            let stamp = fs.cache.attributeStamp
            var entry: FoundEntry
            do {
                // Identified through the open descriptor: the very file made.
                let found = try fs.identify(descriptor)
                entry = try fs.record(name, in: parent, stat: found.stat, locator: found.locator, observed: stamp)
            } catch {
                try? descriptor.close()
                throw error
            }
            // A new file has no capability; its mode may still carry set-id bits.
            let inode = entry.inode
            let eligible = mode_t(entry.attributes.mode) & S_IFMT == S_IFREG && mode & (S_ISUID | S_ISGID) == 0
            let backingID = fs.passthrough.open(inode.nodeID, identity: inode.identity, eligible: eligible) {
                () throws(Errno) in try fs.openPassthroughBacking(inode)
            }
            if backingID == nil { bypassPageCacheIfAsked(info) }
            let id = fs.handles.insert(.init(rawDescriptor: descriptor.rawValue, node: entry.inode.nodeID,
                                             identity: entry.inode.identity, directory: nil))
            fs.cache.openHandle(entry.inode)
            info.pointee.fh = id
            var parameters = fs.entryParameters(entry)
            fs.countKernelLookup(&entry)
            if !fs.replyCreate(request, &parameters, info, backingID: backingID) {
                fs.forget(entry.inode.nodeID, count: 1)
                fs.closeHandle(id)
            }
            entry.discard()
            fs.kernelDrops.noteKernelLookups()
        }
    }
}

func slabfsRead(_ request: fuse_req_t?, _ node: fuse_ino_t, _ size: Int, _ offset: off_t,
                _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in
        let descriptor = try fs.handles.descriptor(try openHandle(info))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 16)
        defer { buffer.deallocate() }
        let count = try descriptor.read(at: Int64(offset), into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<size]))
        // A read may set the access time (relatime): our cached copy is no
        // longer the backing file's.
        fs.cache.invalidateAttributes(NodeID(node))
        fuse_reply_buf(request, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), count)
    }
}

func slabfsWrite(_ request: fuse_req_t?, _ node: fuse_ino_t, _ data: UnsafePointer<CChar>?, _ size: Int,
                 _ offset: off_t, _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in
        let descriptor = try fs.handles.descriptor(try openHandle(info))
        let count = try descriptor.write(at: Int64(offset), from: UnsafeRawBufferPointer(start: data, count: size))
        fs.wrote(node, through: descriptor, for: request)
        fuse_reply_write(request, count)
    }
}

/// Called at close(2) of a descriptor of the file: close a duplicate of
/// ours, so that a backing filesystem that reports errors at close (NFS's
/// close-to-open, CIFS) reports them to the closer, as passthrough_hp does.
/// Over a local filesystem a close reports nothing a write has not, so the
/// first FLUSH gets ENOSYS and the kernel sends no more: one round trip
/// fewer per close. (POSIX locks are the kernel's own here: we implement
/// no lock operations, so the backing file holds none to release.)
func slabfsFlush(_ request: fuse_req_t?, _ node: fuse_ino_t, _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in
        guard fs.backing.reportsErrorsAtClose else { throw Errno.noFunction }
        let descriptor = try fs.handles.descriptor(try openHandle(info))
        let duplicate = try descriptor.duplicateDescriptor()
        try duplicate.close()
        fuse_reply_err(request, 0)
    }
}

func slabfsFsync(_ request: fuse_req_t?, _ node: fuse_ino_t, _ dataOnly: Int32,
                 _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in
        try fs.handles.descriptor(try openHandle(info)).synchronize(dataOnly: dataOnly != 0)
        fuse_reply_err(request, 0)
    }
}

func slabfsFallocate(_ request: fuse_req_t?, _ node: fuse_ino_t, _ mode: Int32, _ offset: off_t, _ length: off_t,
                     _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in
        let descriptor = try fs.handles.descriptor(try openHandle(info))
        try descriptor.allocate(offset: Int64(offset), length: Int64(length), mode: AllocationMode(rawValue: mode))
        fs.wrote(node, through: descriptor, for: request)
        fuse_reply_err(request, 0)
    }
}

/// Only SEEK_DATA and SEEK_HOLE come here; the kernel does the others.
func slabfsLseek(_ request: fuse_req_t?, _ node: fuse_ino_t, _ offset: off_t, _ whence: Int32,
                 _ info: UnsafeMutablePointer<fuse_file_info>?) {
    serve(request) { fs in
        let descriptor = try fs.handles.descriptor(try openHandle(info))
        let position: Int64
        switch whence {
        case 3: position = try descriptor.seek(toNext: .data, from: Int64(offset))  // SEEK_DATA
        case 4: position = try descriptor.seek(toNext: .hole, from: Int64(offset))  // SEEK_HOLE
        case SEEK_SET, SEEK_CUR, SEEK_END:
            position = Int64(try systemCall { Glibc.lseek(descriptor.rawValue, offset, whence) })
        default: throw Errno.invalidArgument
        }
        fuse_reply_lseek(request, off_t(position))
    }
}

func slabfsCopyFileRange(_ request: fuse_req_t?, _ inputNode: fuse_ino_t, _ inputOffset: off_t,
                         _ inputInfo: UnsafeMutablePointer<fuse_file_info>?, _ outputNode: fuse_ino_t,
                         _ outputOffset: off_t, _ outputInfo: UnsafeMutablePointer<fuse_file_info>?,
                         _ length: Int, _ flags: Int32) {
    serve(request) { fs in
        // copy_file_range(2) defines no flags yet.
        guard flags == 0 else { throw Errno.invalidArgument }
        let input = try fs.handles.descriptor(try openHandle(inputInfo))
        let output = try fs.handles.descriptor(try openHandle(outputInfo))
        let count = try input.copyRange(from: Int64(inputOffset), to: output, at: Int64(outputOffset), count: length)
        fs.wrote(outputNode, through: output, for: request)
        fuse_reply_write(request, count)
    }
}

extension FileSystem {
    /// After a write, fallocate or copy into an open file: our attributes
    /// are stale, and a setuid or setgid file written by another user loses
    /// those bits as on a native filesystem. The daemon writes with its own
    /// credentials (CAP_FSETID), so the backing filesystem keeps them.
    /// Without passthrough the kernel's FUSE client kills S_ISUID, and
    /// S_ISGID only with group-execute, before the write (a SETATTR,
    /// Attributes.swift), and misses an S_ISGID file without group-execute
    /// whose writer is not in its group; with passthrough it negotiated
    /// FUSE_HANDLE_KILLPRIV_V2 and leaves all of it to us. The cached mode
    /// says whether to look: no cost for other files.
    func wrote(_ node: fuse_ino_t, through descriptor: FileDescriptor, for request: fuse_req_t?) {
        let cachedMode = cache.invalidateAttributes(NodeID(node)) ?? 0
        guard cachedMode & 0o6000 != 0, runsAsCaller, let credentials = Caller(request, self).credentials,
              credentials.user.rawValue != 0,
              let current = try? descriptor.statDescriptor().rawValue, current.st_mode & S_IFMT == S_IFREG else { return }
        var kill: mode_t = current.st_mode & S_ISUID
        if current.st_mode & S_ISGID != 0 {
            let inGroup = credentials.group.rawValue == current.st_gid
                || credentials.supplementaryGroups.contains { $0.rawValue == current.st_gid }
            if current.st_mode & S_IXGRP != 0 || !inGroup { kill |= S_ISGID }
        }
        guard kill != 0 else { return }
        // As the daemon: the writer may not chmod a file it does not own.
        try? descriptor.setPermissions(FilePermissions(rawValue: current.st_mode & 0o7777 & ~kill))
    }
}

/// The handle id of an open file, EBADF without one.
private func openHandle(_ info: UnsafeMutablePointer<fuse_file_info>?) throws(Errno) -> UInt64 {
    guard let info else { throw .badFileDescriptor }
    return info.pointee.fh
}
