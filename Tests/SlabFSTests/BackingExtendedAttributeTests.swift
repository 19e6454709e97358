@testable import SlabFS
import SystemPackage
import Testing

@Suite("Extended attributes")
struct BackingExtendedAttributeTests {
    @Test("set, get, list and remove a user attribute through an open descriptor")
    func roundTrip() throws {
        try withBackingScratch { scratch in
            let fd = try scratch.makeFileAndOpen("file", .readOnly)
            try fd.setExtendedAttribute("user.colour", to: Array("blue".utf8))
            try fd.setExtendedAttribute("user.empty", to: [])
            #expect(try fd.extendedAttribute("user.colour") == Array("blue".utf8))
            #expect(try fd.extendedAttribute("user.empty") == [])
            #expect(try fd.extendedAttributeNames().sorted() == ["user.colour", "user.empty"])
            try fd.removeExtendedAttribute("user.colour")
            #expect(try fd.extendedAttributeNames() == ["user.empty"])
        }
    }

    @Test("extended attributes of an O_PATH descriptor are reached through /proc")
    func throughPathDescriptor() throws {
        try withBackingScratch { scratch in
            let path = try scratch.makeDirectoryAndOpenPath("dir")
            try path.setExtendedAttribute("user.tag", to: [1, 2, 3])
            #expect(try path.extendedAttribute("user.tag") == [1, 2, 3])
            #expect(try path.extendedAttributeNames() == ["user.tag"])
            try path.removeExtendedAttribute("user.tag")
            #expect(try path.extendedAttributeNames() == [])
        }
    }

    @Test("an empty buffer asks for the length and a short buffer gives ERANGE")
    func sizes() throws {
        try withBackingScratch { scratch in
            let fd = try scratch.makeFileAndOpenPath("file")
            try fd.setExtendedAttribute("user.long", to: [UInt8](repeating: 5, count: 100))
            let empty = UnsafeMutableRawBufferPointer(start: nil, count: 0)
            #expect(try fd.extendedAttribute("user.long", into: empty) == 100)
            #expect(try fd.extendedAttributeNames(into: empty) == "user.long\0".utf8.count)
            var short = [UInt8](repeating: 0, count: 5)
            #expect(throws: Errno.outOfRange) {
                _ = try short.withUnsafeMutableBytes { try fd.extendedAttribute("user.long", into: $0) }
            }
            #expect(throws: Errno.outOfRange) {
                _ = try short.withUnsafeMutableBytes { try fd.extendedAttributeNames(into: $0) }
            }
        }
    }

    @Test("XATTR_CREATE over an existing attribute gives EEXIST, XATTR_REPLACE of a missing one ENODATA")
    func createAndReplace() throws {
        try withBackingScratch { scratch in
            let fd = try scratch.makeFileAndOpen("file", .readOnly)
            try fd.setExtendedAttribute("user.a", to: [1], flags: .create)
            #expect(throws: Errno.fileExists) { try fd.setExtendedAttribute("user.a", to: [2], flags: .create) }
            #expect(throws: Errno.noData) { try fd.setExtendedAttribute("user.b", to: [2], flags: .replace) }
            try fd.setExtendedAttribute("user.a", to: [3], flags: .replace)
            #expect(try fd.extendedAttribute("user.a") == [3])
        }
    }

    @Test("a missing attribute gives ENODATA on get and on remove")
    func missing() throws {
        try withBackingScratch { scratch in
            let fd = try scratch.makeFileAndOpenPath("file")
            #expect(throws: Errno.noData) { try fd.extendedAttribute("user.none") }
            #expect(throws: Errno.noData) { try fd.removeExtendedAttribute("user.none") }
        }
    }

    @Test("attributes of a symlink's O_PATH descriptor belong to the link, not its target")
    func symlink() throws {
        try withBackingScratch { scratch in
            try scratch.makeTargetAndLink()
            let link = try scratch.openPath("link")
            // user.* is for files and directories only; trusted.* (root) is allowed on links.
            #expect(throws: Errno.notPermitted) { try link.setExtendedAttribute("user.x", to: [1]) }
            try link.setExtendedAttribute("trusted.x", to: [1])
            #expect(try link.extendedAttribute("trusted.x") == [1])
            let target = try scratch.openPath("target")
            #expect(throws: Errno.noData) { try target.extendedAttribute("trusted.x") }
        }
    }
}
