@testable import SlabFS
import SystemPackage
import Testing

@Suite("Entry names")
struct BackingNameTests {
    @Test("a name with a slash is rejected with EINVAL and nothing is created")
    func slash() throws {
        try withBackingScratch { scratch in
            #expect(throws: Errno.invalidArgument) { try BackingName(validating: "a/b") }
            #expect(throws: Errno.invalidArgument) { try BackingName(validating: "/etc") }
            let cString = Array("sub/x".utf8CString)
            #expect(throws: Errno.invalidArgument) {
                try cString.withUnsafeBufferPointer { (buffer) throws(Errno) in
                    try BackingName(cString: buffer.baseAddress!)
                }
            }
            let names = try scratch.names()
            #expect(names.isEmpty)
        }
    }

    @Test("\".\" and \"..\" are not names: EINVAL, so nothing can climb out of the backing root")
    func dots() {
        #expect(throws: Errno.invalidArgument) { try BackingName(validating: ".") }
        #expect(throws: Errno.invalidArgument) { try BackingName(validating: "..") }
        #expect(throws: Never.self) { try BackingName(validating: "...") }
        #expect(throws: Never.self) { try BackingName(validating: ".hidden") }
    }

    @Test("a name of 255 bytes is accepted and one of 256 bytes gives ENAMETOOLONG")
    func lengths() throws {
        try withBackingScratch { scratch in
            let longest = try BackingName(validating: String(repeating: "n", count: 255))
            try scratch.makeFile(longest)
            #expect(try scratch.root.stat(longest).type == .regular)
            #expect(throws: Errno.fileNameTooLong) { try BackingName(validating: String(repeating: "n", count: 256)) }
            // Bytes, not characters: 128 two-byte characters are 256 bytes.
            #expect(throws: Errno.fileNameTooLong) { try BackingName(validating: String(repeating: "é", count: 128)) }
        }
    }

    @Test("a name passes its bytes to C with a NUL after them and prints as text")
    func cString() throws {
        let name: BackingName = "entry"
        #expect(name.withCString { String(cString: $0) } == "entry")
        #expect(name.description == "entry")
        #expect(try BackingName(bytes: [0xff]).description == "\u{FFFD}")
        #expect(name == (try BackingName(validating: "entry")))
    }

    @Test("the empty name gives ENOENT and a NUL inside a name gives EINVAL")
    func emptyAndNul() {
        #expect(throws: Errno.noSuchFileOrDirectory) { try BackingName(validating: "") }
        #expect(throws: Errno.invalidArgument) { try BackingName(bytes: [0x61, 0, 0x62]) }
    }

    @Test("a name that is not UTF-8 reaches the entry with exactly those bytes")
    func rawBytes() throws {
        try withBackingScratch { scratch in
            let bytes: [UInt8] = [0x66, 0xff, 0xfe, 0x2e, 0x74]
            let name = try BackingName(bytes: bytes)
            #expect(name.bytes == bytes)
            try scratch.makeFile(name)
            let stream = try DirectoryStream(scratch.root)
            var listed: [[UInt8]] = []
            while let entry = try stream.next() {
                if !entry.isDotOrDotDot { listed.append(entry.name) }
            }
            #expect(listed == [bytes])
        }
    }
}
