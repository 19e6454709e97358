import CFuse
import DCache
import Glibc
import SystemPackage

// SETXATTR, GETXATTR, LISTXATTR and REMOVEXATTR. Names under the reserved
// prefix `user.slabfs.` never reach a backing file: they are the control
// attributes (ControlAttributes.swift), or errors.

func slabfsSetxattr(_ request: fuse_req_t?, _ node: fuse_ino_t, _ name: UnsafePointer<CChar>?,
                    _ value: UnsafePointer<CChar>?, _ size: Int, _ flags: Int32) {
    serve(request) { fs in
        let name = try attributeName(name)
        let bytes = UnsafeRawBufferPointer(start: value, count: value == nil ? 0 : size)
        if ControlAttribute.isReserved(name) {
            try fs.setControlAttribute(name, node: node, value: Array(bytes), by: ControlCaller(request, fs))
        } else {
            let caller = Caller(request, fs)
            try fs.withInode(node) { inode in
                try fs.withOpenOrPath(inode) { descriptor in
                    try caller.run { () throws(Errno) in
                        try descriptor.setExtendedAttribute(name, to: bytes, flags: ExtendedAttributeFlags(rawValue: flags))
                    }
                }
                // The kernel keeps ctime; ours must not outlive the change.
                fs.cache.invalidateAttributes(inode.nodeID)
            }
        }
        fuse_reply_err(request, 0)
    }
}

func slabfsGetxattr(_ request: fuse_req_t?, _ node: fuse_ino_t, _ name: UnsafePointer<CChar>?, _ size: Int) {
    serve(request) { fs in
        let name = try attributeName(name)
        if ControlAttribute.isReserved(name) {
            try replyValue(request, try fs.controlAttribute(name, node: node, by: ControlCaller(request, fs)), size: size)
            return
        }
        let caller = Caller(request, fs)
        try fs.withInode(node) { inode in
            try fs.withOpenOrPath(inode) { descriptor in
                let value = try caller.run { () throws(Errno) -> [UInt8] in
                    guard size > 0 else {
                        let length = try descriptor.extendedAttribute(name, into: .init(start: nil, count: 0))
                        return [UInt8](repeating: 0, count: length)
                    }
                    var buffer = [UInt8](repeating: 0, count: size)
                    let count = try buffer.withUnsafeMutableBytes { raw in
                        Result { () throws(Errno) in try descriptor.extendedAttribute(name, into: raw) }
                    }.get()
                    buffer.removeLast(size - count)
                    return buffer
                }
                try replyValue(request, value, size: size)
            }
        }
    }
}

func slabfsListxattr(_ request: fuse_req_t?, _ node: fuse_ino_t, _ size: Int) {
    serve(request) { fs in
        let caller = Caller(request, fs)
        let names = try fs.withInode(node) { inode in
            try fs.withOpenOrPath(inode) { descriptor in
                try caller.run { () throws(Errno) in try attributeNames(of: descriptor) }
            }
        }
        var visible = names.filter { !ControlAttribute.isReserved($0) }
        // The kernel hides trusted.* values from unprivileged callers but
        // passes our list as it is: hide the names too.
        if !caller.isDaemon { visible.removeAll { $0.starts(with: Array("trusted.".utf8)) } }
        if node == NodeID.root.rawValue { visible += ControlAttribute.listed.map { Array($0.utf8) } }
        try replyValue(request, visible.flatMap { $0 + [0] }, size: size)
    }
}

func slabfsRemovexattr(_ request: fuse_req_t?, _ node: fuse_ino_t, _ name: UnsafePointer<CChar>?) {
    serve(request) { fs in
        let name = try attributeName(name)
        guard !ControlAttribute.isReserved(name) else { throw Errno.invalidArgument }
        let caller = Caller(request, fs)
        try fs.withInode(node) { inode in
            try fs.withOpenOrPath(inode) { descriptor in
                try caller.run { () throws(Errno) in try descriptor.removeExtendedAttribute(name) }
            }
            fs.cache.invalidateAttributes(inode.nodeID)
        }
        fuse_reply_err(request, 0)
    }
}

/// An attribute name from the kernel. The Backing calls take Swift
/// strings, so a name that is not UTF-8 is refused rather than changed.
private func attributeName(_ name: UnsafePointer<CChar>?) throws(Errno) -> String {
    guard let name, let string = String(validatingCString: name), !string.isEmpty else { throw .invalidArgument }
    return string
}

/// Every name, as bytes: read the length, then the list (again if it grew).
private func attributeNames(of descriptor: FileDescriptor) throws(Errno) -> [[UInt8]] {
    while true {
        let length = try descriptor.extendedAttributeNames(into: .init(start: nil, count: 0))
        var list = [UInt8](repeating: 0, count: length)
        do throws(Errno) {
            let count = try list.withUnsafeMutableBytes { raw in
                Result { () throws(Errno) in try descriptor.extendedAttributeNames(into: raw) }
            }.get()
            return list[..<count].split(separator: 0).map(Array.init)
        } catch .outOfRange {
            continue
        }
    }
}

/// getxattr and listxattr replies: the length when asked for it (size 0),
/// ERANGE when the value does not fit, else the value.
private func replyValue(_ request: fuse_req_t?, _ value: [UInt8], size: Int) throws(Errno) {
    if size == 0 {
        fuse_reply_xattr(request, value.count)
    } else if value.count > size {
        throw .outOfRange
    } else {
        value.withUnsafeBytes { _ = fuse_reply_buf(request, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
    }
}
