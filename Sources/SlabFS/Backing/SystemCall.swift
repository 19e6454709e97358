import Glibc
import SystemPackage

/// Runs a system call that reports failure as -1 and errno, and retries it
/// while it fails with EINTR: the one place this layer turns errno into a
/// typed `Errno`. (swift-system's own helper is internal to it.)
@inline(__always)
func systemCall<Value: FixedWidthInteger>(_ call: () -> Value) throws(Errno) -> Value {
    while true {
        let result = call()
        if result != -1 { return result }
        let error = Errno(rawValue: errno)
        if error != .interrupted { throw error }
    }
}

/// Calls `body` with "/proc/self/fd/N" for `descriptor`, built on the stack.
///
/// This path is the only way Linux offers to open, truncate, chmod or read
/// extended attributes of the file an O_PATH descriptor refers to: those
/// calls reject O_PATH descriptors with EBADF, and their *at forms do not all
/// take AT_EMPTY_PATH. The kernel resolves the magic link to the very inode
/// the descriptor holds (not to a name, which could have been renamed or
/// replaced since), so it cannot leave the backing directory, and it does not
/// follow that inode any further even when it is a symlink. It needs /proc
/// mounted; without it these calls fail with ENOENT.
func withProcPath<Result>(
    of descriptor: FileDescriptor, _ body: (UnsafePointer<CChar>) throws(Errno) -> Result
) throws(Errno) -> Result {
    let prefix: StaticString = "/proc/self/fd/"
    return try withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) {
        (buffer) throws(Errno) -> Result in
        var count = 0
        prefix.withUTF8Buffer { bytes in
            for byte in bytes { buffer[count] = CChar(bitPattern: byte); count += 1 }
        }
        var digits = String(descriptor.rawValue).utf8.makeIterator()
        while let digit = digits.next() { buffer[count] = CChar(bitPattern: digit); count += 1 }
        buffer[count] = 0
        return try body(buffer.baseAddress!)
    }
}
