import Glibc
import SystemPackage

/// One entry name inside a directory, checked so that a system call given it
/// can only reach that directory's entry.
///
/// Linux names are bytes, not text: a name is kept exactly as the kernel sent
/// it (FUSE hands us bytes; turning them into a Swift String would replace
/// invalid UTF-8 and name a different file).
///
/// Rejected, so that no call made with a name resolves a path:
/// - a "/" anywhere, and "." or "..": EINVAL. ".." at the backing root would
///   leave the backing directory; "." is the directory itself, which callers
///   reach through its own descriptor. FUSE resolves both from its inode
///   table (they only arrive as lookups on NFS-exported mounts).
/// - a NUL byte: EINVAL (the C call would see a shorter, different name).
/// - the empty name: ENOENT, as the kernel answers for "".
/// - more than 255 bytes: ENAMETOOLONG, the kernel's NAME_MAX.
public struct BackingName: Hashable, Sendable {
    /// NAME_MAX: the longest name Linux filesystems accept, in bytes.
    public static let maximumLength = 255

    /// The bytes followed by a NUL, so that a C call takes them as they are.
    let cString: [CChar]
    /// The name's bytes, without the NUL: the cache's key. Kept, not made
    /// from `cString` at each use: a request passes it to the cache several
    /// times.
    public let bytes: [UInt8]

    /// Checks and keeps a copy of `bytes`.
    public init(bytes: some Collection<UInt8>) throws(Errno) {
        try Self.check(bytes)
        var cString = [CChar]()
        cString.reserveCapacity(bytes.count + 1)
        for byte in bytes { cString.append(CChar(bitPattern: byte)) }
        cString.append(0)
        self.cString = cString
        self.bytes = Array(bytes)
    }

    /// Checks and keeps a copy of a NUL-terminated name, such as FUSE's.
    public init(cString: UnsafePointer<CChar>) throws(Errno) {
        let length = strlen(cString)
        try self.init(bytes: UnsafeRawBufferPointer(start: cString, count: length))
    }

    /// The UTF-8 bytes of `name`. (Labelled: with a literal argument an
    /// unlabelled `BackingName("a/b")` would be taken as the string literal,
    /// which traps when invalid, instead of this, which throws.)
    public init(validating name: String) throws(Errno) {
        try self.init(bytes: name.utf8)
    }

    /// Takes bytes already known to be a valid name (from a directory
    /// listing, say), NUL included.
    init(unchecked cString: [CChar]) {
        self.cString = cString
        self.bytes = cString.dropLast().map { UInt8(bitPattern: $0) }
    }

    /// Calls `body` with the name as a C string.
    public func withCString<Result, Failure: Error>(
        _ body: (UnsafePointer<CChar>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try cString.withUnsafeBufferPointer { (buffer) throws(Failure) -> Result in
            try body(buffer.baseAddress!)
        }
    }

    static func check(_ bytes: some Collection<UInt8>) throws(Errno) {
        if bytes.isEmpty { throw .noSuchFileOrDirectory }
        if bytes.count > maximumLength { throw .fileNameTooLong }
        if bytes.contains(UInt8(ascii: "/")) || bytes.contains(0) { throw .invalidArgument }
        let dot = UInt8(ascii: ".")
        if bytes.allSatisfy({ $0 == dot }) && bytes.count <= 2 { throw .invalidArgument }
    }
}

extension BackingName: CustomStringConvertible {
    /// The name as text, invalid UTF-8 replaced: for logs only.
    public var description: String {
        String(decoding: bytes, as: UTF8.self)
    }
}

extension BackingName: ExpressibleByStringLiteral {
    /// A name written in the source; an invalid literal is a programming
    /// error and traps, as swift-system's FilePath.Component does.
    public init(stringLiteral value: String) {
        do {
            try self.init(validating: value)
        } catch {
            preconditionFailure("invalid BackingName literal \"\(value)\": \(error)")
        }
    }
}
