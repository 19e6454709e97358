import CFuse
import Glibc

// The table libfuse calls. Every entry is a global function in a non-main
// file: a closure written in main.swift (or under @main) would be main-actor
// isolated, and Swift 6 traps (SIGILL) when a FUSE thread enters it.

func makeOperations() -> fuse_lowlevel_ops {
    var ops = fuse_lowlevel_ops()
    ops.`init` = slabfsInit
    ops.destroy = slabfsDestroy
    ops.lookup = slabfsLookup
    ops.forget = slabfsForget
    ops.forget_multi = slabfsForgetMulti
    ops.getattr = slabfsGetattr
    ops.setattr = slabfsSetattr
    ops.readlink = slabfsReadlink
    ops.mknod = slabfsMknod
    ops.mkdir = slabfsMkdir
    ops.unlink = slabfsUnlink
    ops.rmdir = slabfsRmdir
    ops.symlink = slabfsSymlink
    ops.rename = slabfsRename
    ops.link = slabfsLink
    ops.open = slabfsOpen
    ops.read = slabfsRead
    ops.write = slabfsWrite
    ops.flush = slabfsFlush
    ops.release = slabfsRelease
    ops.fsync = slabfsFsync
    ops.opendir = slabfsOpendir
    ops.readdir = slabfsReaddir
    ops.readdirplus = slabfsReaddirplus
    ops.releasedir = slabfsReleasedir
    ops.fsyncdir = slabfsFsyncdir
    ops.statfs = slabfsStatfs
    ops.setxattr = slabfsSetxattr
    ops.getxattr = slabfsGetxattr
    ops.listxattr = slabfsListxattr
    ops.removexattr = slabfsRemovexattr
    ops.access = slabfsAccess
    ops.create = slabfsCreate
    ops.fallocate = slabfsFallocate
    ops.copy_file_range = slabfsCopyFileRange
    ops.lseek = slabfsLseek
    return ops
}

/// INIT: what we ask of the kernel.
func slabfsInit(_ userdata: UnsafeMutableRawPointer?, _ connection: UnsafeMutablePointer<fuse_conn_info>?) {
    guard let connection else { return }
    func want(_ capability: Int32) {
        let bit = UInt32(bitPattern: capability)
        if connection.pointee.capable & bit != 0 { connection.pointee.want |= bit }
    }
    // Listings with attributes, which fill our cache and the kernel's;
    // the kernel switches between readdir and readdirplus as it sees fit.
    want(FUSE_CAP_READDIRPLUS)
    want(FUSE_CAP_READDIRPLUS_AUTO)
    if let userdata, let fileSystem = Unmanaged<SessionContext>.fromOpaque(userdata).takeUnretainedValue().fileSystem {
        let auto = UInt32(bitPattern: FUSE_CAP_READDIRPLUS_AUTO)
        fileSystem.kernelChoosesReaddirplus.store(connection.pointee.want & auto != 0, ordering: .relaxed)
    }
    // Symlink targets cannot change: let the kernel cache them.
    want(FUSE_CAP_CACHE_SYMLINKS)
    // Open files keep the kernel's page cache (keep_cache); the kernel
    // drops it when attributes it is given show another mtime or size, so
    // a change made behind the mount shows once our attributes are renewed.
    want(FUSE_CAP_AUTO_INVAL_DATA)
    // Lookups in one directory may run in parallel (we lock per entry).
    want(FUSE_CAP_PARALLEL_DIROPS)
    // Not FUSE_CAP_WRITEBACK_CACHE: with it the kernel reads files opened
    // write-only, and with allow_other that would bypass the caller's
    // permissions. Not FUSE_CAP_DONT_MASK: the kernel applies the caller's
    // umask, and the daemon runs with umask 0.
    let dontMask = UInt32(bitPattern: FUSE_CAP_DONT_MASK)
    connection.pointee.want &= ~dontMask
}

func slabfsDestroy(_ userdata: UnsafeMutableRawPointer?) {
    // Nothing to flush: every backing change is made when it is asked for.
    // The session owner stops the kernelDrops and frees the cache after the loop.
}
