import CFuse
import DCache
import Glibc
import SystemPackage

// What every operation shares: running its body with errors as the reply,
// and replying with an entry (the one place, with `forget`, where the
// kernel's lookup counts change).

/// Runs an operation. The body replies on success; a thrown error becomes
/// the reply (fuse_reply_err), so a body must not throw after replying.
@inline(__always)
func serve(_ request: fuse_req_t?, _ body: (FileSystem) throws -> Void) {
    let fileSystem = fileSystem(request)
    do {
        try body(fileSystem)
    } catch {
        fuse_reply_err(request, errnoValue(of: error))
    }
}

/// The errno an error is replied with.
func errnoValue(of error: any Error) -> CInt {
    switch error {
    case let error as Errno:
        return error.rawValue
    case let error as DCacheError:
        switch error {
        case .outOfMemory: return ENOMEM
        case .outOfNodeIDs: return ENFILE
        case .nameTooLong: return ENAMETOOLONG
        case .invalidName: return EINVAL
        case .parentNotCached: return ESTALE
        case .invalidConfiguration: return EINVAL
        case .deviceNumberTooLarge: return EOVERFLOW
        }
    default:
        return EIO
    }
}

/// An entry found by a lookup (or made by a create): the inode with a
/// request reference, its attributes, and for an inode without a file
/// handle, the O_PATH descriptor to keep if the kernel is told of it.
struct FoundEntry {
    let inode: InodeReference
    let attributes: InodeAttributes
    var descriptor: FileDescriptor?

    /// Drops the request reference and an unkept descriptor.
    func discard() {
        inode.release()
        if let descriptor { try? descriptor.close() }
    }
}

extension FileSystem {
    func entryParameters(_ entry: FoundEntry) -> fuse_entry_param {
        var parameters = fuse_entry_param()
        parameters.ino = entry.inode.nodeID.rawValue
        parameters.generation = entry.inode.generation
        parameters.attr = entry.attributes.stat(inode: entry.inode.identity.inode)
        let device = entry.inode.identity.device
        parameters.attr_timeout = attributeTimeout(device: device)
        parameters.entry_timeout = entryTimeout(device: device)
        return parameters
    }

    /// Counts one kernel lookup of the entry, and keeps its descriptor if
    /// it has one (after counting: see `PathDescriptors.release`).
    func countKernelLookup(_ entry: inout FoundEntry) {
        cache.kernelLookup(entry.inode)
        if let descriptor = entry.descriptor {
            pathDescriptors.keep(descriptor, for: entry.inode.nodeID, identity: entry.inode.identity)
            entry.descriptor = nil
        }
    }

    /// The kernel dropped `count` lookups (FORGET, or a reply it never got).
    func forget(_ node: NodeID, count: UInt64) {
        cache.forget(node, count: count)
        releaseKeptDescriptor(node)
        dropIdleRegistration(node)
    }

    func releaseKeptDescriptor(_ node: NodeID) {
        pathDescriptors.release(node) { (cache.kernelLookups(of: node) ?? 0) > 0 }
    }

    /// An idle passthrough registration goes when the kernel no longer
    /// holds the inode; the kernel drop thread gives it back, not the
    /// request thread (see `KernelDropThread.enqueueBackingClose`).
    func dropIdleRegistration(_ node: NodeID) {
        guard passthrough.hasIdleRegistrations, (cache.kernelLookups(of: node) ?? 0) == 0,
              let id = passthrough.takeIdle(node) else { return }
        kernelDrops.enqueueBackingClose(id)
    }

    /// Replies with the entry, counting the lookup before the kernel can
    /// forget it; takes the count back if the reply cannot be delivered
    /// (the request was interrupted). Consumes the entry.
    func replyEntry(_ request: fuse_req_t?, _ entry: FoundEntry) {
        var entry = entry
        var parameters = entryParameters(entry)
        countKernelLookup(&entry)
        if fuse_reply_entry(request, &parameters) != 0 {
            forget(entry.inode.nodeID, count: 1)
        }
        entry.discard()
        kernelDrops.noteKernelLookups()
    }

    /// "No such entry", which the kernel may cache for the entry timeout.
    func replyNegative(_ request: fuse_req_t?) {
        var parameters = fuse_entry_param()
        parameters.entry_timeout = negativeEntryTimeout
        fuse_reply_entry(request, &parameters)
    }

    /// Replies with attributes, for the attribute timeout.
    func replyAttributes(_ request: fuse_req_t?, _ inode: InodeReference, _ attributes: InodeAttributes) {
        var status = attributes.stat(inode: inode.identity.inode)
        fuse_reply_attr(request, &status, attributeTimeout(device: inode.identity.device))
    }
}

/// A name from the kernel, checked: ENAMETOOLONG past 255 bytes, EINVAL
/// for "/", "." and "..", ENOENT for "".
func entryName(_ name: UnsafePointer<CChar>?) throws(Errno) -> BackingName {
    guard let name else { throw .invalidArgument }
    return try BackingName(cString: name)
}
