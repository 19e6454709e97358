import CFuse
import DCache
import Glibc
import SystemPackage

// OPEN and CREATE replies for a file opened in passthrough. libfuse 3.14's
// fuse_reply_open cannot carry a backing id (the field its header calls
// padding), so the reply bodies are laid out here as the kernel's
// include/uapi/linux/fuse.h has them and sent with fuse_reply_buf.

/// fuse_open_out: fh u64, open_flags u32, backing_id s32.
private let openOutSize = 16
/// FOPEN_PASSTHROUGH. Not FOPEN_KEEP_CACHE (the open fails with EIO) nor
/// FOPEN_DIRECT_IO (reads and writes would come back to the daemon).
private let openPassthrough: UInt32 = 1 << 7
/// fuse_entry_out: nodeid, generation, entry_valid, attr_valid (u64),
/// entry_valid_nsec, attr_valid_nsec (u32), then fuse_attr (88 bytes).
private let entryOutSize = 128

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
        var body = [UInt8](repeating: 0, count: openOutSize)
        body.withUnsafeMutableBytes { Self.storeOpenOut($0.baseAddress!, handle: info.pointee.fh, backingID: backingID) }
        return body.withUnsafeBytes { fuse_reply_buf(request, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) } == 0
    }

    /// Replies to CREATE; false if the reply could not be delivered.
    func replyCreate(_ request: fuse_req_t?, _ parameters: inout fuse_entry_param,
                     _ info: UnsafeMutablePointer<fuse_file_info>, backingID: Int32?) -> Bool {
        guard let backingID else { return fuse_reply_create(request, &parameters, info) == 0 }
        var body = [UInt8](repeating: 0, count: entryOutSize + openOutSize)
        body.withUnsafeMutableBytes { raw in
            Self.storeEntryOut(raw.baseAddress!, parameters)
            Self.storeOpenOut(raw.baseAddress! + entryOutSize, handle: info.pointee.fh, backingID: backingID)
        }
        return body.withUnsafeBytes { fuse_reply_buf(request, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) } == 0
    }

    static func storeOpenOut(_ raw: UnsafeMutableRawPointer, handle: UInt64, backingID: Int32) {
        raw.storeBytes(of: handle, as: UInt64.self)
        raw.storeBytes(of: openPassthrough, toByteOffset: 8, as: UInt32.self)
        raw.storeBytes(of: backingID, toByteOffset: 12, as: Int32.self)
    }

    /// fuse_entry_out as libfuse's fill_entry writes it.
    static func storeEntryOut(_ raw: UnsafeMutableRawPointer, _ parameters: fuse_entry_param) {
        func seconds(_ t: Double) -> UInt64 { t <= 0 ? 0 : t >= Double(UInt64.max) ? UInt64.max : UInt64(t) }
        func nanoseconds(_ t: Double) -> UInt32 {
            let fraction = t - Double(seconds(t))
            return fraction <= 0 ? 0 : fraction >= 0.999999999 ? 999_999_999 : UInt32(fraction * 1e9)
        }
        raw.storeBytes(of: UInt64(parameters.ino), as: UInt64.self)
        raw.storeBytes(of: UInt64(parameters.generation), toByteOffset: 8, as: UInt64.self)
        raw.storeBytes(of: seconds(parameters.entry_timeout), toByteOffset: 16, as: UInt64.self)
        raw.storeBytes(of: seconds(parameters.attr_timeout), toByteOffset: 24, as: UInt64.self)
        raw.storeBytes(of: nanoseconds(parameters.entry_timeout), toByteOffset: 32, as: UInt32.self)
        raw.storeBytes(of: nanoseconds(parameters.attr_timeout), toByteOffset: 36, as: UInt32.self)
        // fuse_attr: ino, size, blocks, atime, mtime, ctime (u64), atimensec,
        // mtimensec, ctimensec, mode, nlink, uid, gid, rdev, blksize, flags (u32).
        let a = parameters.attr
        let attr = raw + 40
        let words64: [UInt64] = [UInt64(a.st_ino), UInt64(bitPattern: Int64(a.st_size)), UInt64(bitPattern: Int64(a.st_blocks)),
                                 UInt64(bitPattern: Int64(a.st_atim.tv_sec)), UInt64(bitPattern: Int64(a.st_mtim.tv_sec)),
                                 UInt64(bitPattern: Int64(a.st_ctim.tv_sec))]
        for (index, word) in words64.enumerated() { attr.storeBytes(of: word, toByteOffset: index * 8, as: UInt64.self) }
        let words32: [UInt32] = [UInt32(a.st_atim.tv_nsec), UInt32(a.st_mtim.tv_nsec), UInt32(a.st_ctim.tv_nsec),
                                 a.st_mode, UInt32(a.st_nlink), a.st_uid, a.st_gid, UInt32(truncatingIfNeeded: a.st_rdev),
                                 UInt32(a.st_blksize), 0]
        for (index, word) in words32.enumerated() { attr.storeBytes(of: word, toByteOffset: 48 + index * 4, as: UInt32.self) }
    }
}
