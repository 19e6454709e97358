import CSlabSupport
import Glibc
import SystemPackage

// Extended attributes of the file a descriptor refers to. The f*xattr calls
// reject O_PATH descriptors with EBADF; then the path form is called on
// "/proc/self/fd/N", which reaches the inode itself, a symlink included
// (passthrough_hp's way). Linux allows user.* attributes on regular files
// and directories only (EPERM elsewhere); a missing attribute is ENODATA.

/// Flags of setxattr(2).
public struct ExtendedAttributeFlags: OptionSet, Sendable, Hashable {
    public let rawValue: CInt
    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// XATTR_CREATE: fail with EEXIST if the attribute exists.
    public static var create: Self { .init(rawValue: LINUX_XATTR_CREATE) }
    /// XATTR_REPLACE: fail with ENODATA if it does not.
    public static var replace: Self { .init(rawValue: LINUX_XATTR_REPLACE) }
}

extension FileDescriptor {
    /// `fgetxattr`: copies the value of attribute `name` into `buffer` and
    /// returns its length; an empty buffer asks for the length only, as
    /// FUSE's getxattr with size 0 does. ERANGE: `buffer` is too small.
    public func extendedAttribute(
        _ name: String, into buffer: UnsafeMutableRawBufferPointer
    ) throws(Errno) -> Int {
        let fdCall = linux_fgetxattr
        let pathCall = linux_getxattr
        return try withFallback(
            { (fd) in fdCall(fd, name, buffer.baseAddress, buffer.count) },
            { (path) in pathCall(path, name, buffer.baseAddress, buffer.count) })
    }

    /// The value of attribute `name`.
    public func extendedAttribute(_ name: String) throws(Errno) -> [UInt8] {
        try readGrowing { (buffer) throws(Errno) in try extendedAttribute(name, into: buffer) }
    }

    /// `fsetxattr`: sets attribute `name` to `value`.
    public func setExtendedAttribute(
        _ name: String, to value: UnsafeRawBufferPointer, flags: ExtendedAttributeFlags = []
    ) throws(Errno) {
        let fdCall = linux_fsetxattr
        let pathCall = linux_setxattr
        _ = try withFallback(
            { (fd) in fdCall(fd, name, value.baseAddress, value.count, flags.rawValue) },
            { (path) in pathCall(path, name, value.baseAddress, value.count, flags.rawValue) })
    }

    /// `fsetxattr` with the value in an array.
    public func setExtendedAttribute(
        _ name: String, to value: [UInt8], flags: ExtendedAttributeFlags = []
    ) throws(Errno) {
        try value.withUnsafeBufferPointer { (bytes) throws(Errno) in
            try setExtendedAttribute(name, to: UnsafeRawBufferPointer(bytes), flags: flags)
        }
    }

    /// `flistxattr`: copies the attribute names, each followed by a NUL,
    /// into `buffer` and returns their length; an empty buffer asks for the
    /// length only. ERANGE: `buffer` is too small.
    public func extendedAttributeNames(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        let fdCall = linux_flistxattr
        let pathCall = linux_listxattr
        let list = buffer.baseAddress?.assumingMemoryBound(to: CChar.self)
        return try withFallback(
            { (fd) in fdCall(fd, list, buffer.count) },
            { (path) in pathCall(path, list, buffer.count) })
    }

    /// The attribute names, as text.
    public func extendedAttributeNames() throws(Errno) -> [String] {
        let list = try readGrowing { (buffer) throws(Errno) in try extendedAttributeNames(into: buffer) }
        return list.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// `fremovexattr`: removes attribute `name`. ENODATA: there is none.
    public func removeExtendedAttribute(_ name: String) throws(Errno) {
        let fdCall = linux_fremovexattr
        let pathCall = linux_removexattr
        _ = try withFallback({ (fd) in fdCall(fd, name) }, { (path) in pathCall(path, name) })
    }

    /// Calls the descriptor form, and the path form on the /proc path if
    /// this is an O_PATH descriptor.
    private func withFallback<Result: FixedWidthInteger>(
        _ byDescriptor: (CInt) -> Result, _ byPath: (UnsafePointer<CChar>) -> Result
    ) throws(Errno) -> Result {
        do throws(Errno) {
            return try systemCall { byDescriptor(rawValue) }
        } catch .badFileDescriptor {
            return try withProcPath(of: self) { (path) throws(Errno) in try systemCall { byPath(path) } }
        }
    }

    /// Asks for the length, then reads; again if the value grew meanwhile.
    private func readGrowing(
        _ read: (UnsafeMutableRawBufferPointer) throws(Errno) -> Int
    ) throws(Errno) -> [UInt8] {
        while true {
            let length = try read(UnsafeMutableRawBufferPointer(start: nil, count: 0))
            if length == 0 { return [] }
            var bytes = [UInt8](repeating: 0, count: length)
            do throws(Errno) {
                let count = try bytes.withUnsafeMutableBufferPointer { (buffer) throws(Errno) in
                    try read(UnsafeMutableRawBufferPointer(buffer))
                }
                bytes.removeLast(length - count)
                return bytes
            } catch .outOfRange {
                continue
            }
        }
    }
}
