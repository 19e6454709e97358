import CFuse
import DCache
import Glibc
import SystemPackage

// OPEN and CREATE replies for a file opened in passthrough. libfuse 3.14's
// fuse_reply_open cannot carry a backing id, so CFuse's shim builds them
// from the kernel's own structures and sends them with fuse_reply_buf.
// They say FOPEN_PASSTHROUGH only: not FOPEN_KEEP_CACHE (the open fails
// with EIO) nor FOPEN_DIRECT_IO (reads and writes would come back to the
// daemon).

extension FileSystem {
    /// Whether a file may be opened in passthrough: a regular file without
    /// a setuid or setgid bit (see `Passthrough`).
    func passthroughEligible(_ inode: InodeReference) -> Bool {
        let mode = mode_t(cache.attributes(of: inode).attributes.mode)
        return mode & S_IFMT == S_IFREG && mode & (S_ISUID | S_ISGID) == 0
    }

    /// The file the kernel does an inode's passthrough I/O on: opened by the
    /// daemon, read-write where the backing filesystem allows it.
    func openPassthroughBacking(_ inode: InodeReference) throws(Errno) -> FileDescriptor {
        do {
            return try open(inode, flags: O_RDWR | O_CLOEXEC, as: Caller(credentials: nil))
        } catch let error as Errno where [.readOnlyFileSystem, .notPermitted, .permissionDenied, .textFileBusy].contains(error) {
            do { return try open(inode, flags: O_RDONLY | O_CLOEXEC, as: Caller(credentials: nil)) } catch {
                throw (error as? Errno) ?? .ioError
            }
        } catch {
            throw (error as? Errno) ?? .ioError
        }
    }

    /// An idle registration keeps its backing file alive, so a file removed
    /// or replaced behind the mount still opens by handle where it would
    /// otherwise say ESTALE (and the kernel would look the name up again):
    /// a reopen through a name the kernel has not yet been told about must
    /// not find the old file. Costs an fstat, on reuse only.
    func refuseIfRemovedWhileIdle(_ inode: InodeReference, _ descriptor: FileDescriptor) throws(Errno) {
        guard passthrough.hasIdleRegistrations, passthrough.isIdle(inode.nodeID),
              (try? descriptor.statDescriptor().rawValue.st_nlink) == 0 else { return }
        try? descriptor.close()
        passthrough.dropIdle(inode.nodeID)
        markStale(inode)
        throw .staleNFSFileHandle
    }

    /// Replies to OPEN; false if the reply could not be delivered.
    func replyOpen(_ request: fuse_req_t?, _ info: UnsafeMutablePointer<fuse_file_info>, backingID: Int32?) -> Bool {
        guard let backingID else { return fuse_reply_open(request, info) == 0 }
        return slabfs_reply_open_passthrough(request, info.pointee.fh, backingID) == 0
    }

    /// Replies to CREATE; false if the reply could not be delivered.
    func replyCreate(_ request: fuse_req_t?, _ parameters: inout fuse_entry_param,
                     _ info: UnsafeMutablePointer<fuse_file_info>, backingID: Int32?) -> Bool {
        guard let backingID else { return fuse_reply_create(request, &parameters, info) == 0 }
        return slabfs_reply_create_passthrough(request, &parameters, info.pointee.fh, backingID) == 0
    }
}
