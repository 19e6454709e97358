import Glibc
@testable import SlabFS
import SystemPackage
import Testing

@Suite("Directory entries")
struct BackingEntryTests {
    @Test("stat of a missing name fails with ENOENT")
    func statMissing() throws {
        try withBackingScratch { scratch in
            #expect(throws: Errno.noSuchFileOrDirectory) { try scratch.root.stat("absent") }
        }
    }

    @Test("stat of a symlink describes the link, not its target")
    func statSymlink() throws {
        try withBackingScratch { scratch in
            try scratch.makeTargetAndLink(text: "twelve bytes")
            let stat = try scratch.root.stat("link")
            #expect(stat.type == .symbolicLink)
            #expect(stat.size == 6)
            let fd = try scratch.openPath("link")
            #expect(try fd.statDescriptor() == stat)
        }
    }

    @Test("a symlink inside the backing directory is never followed")
    func symlinkNeverFollowed() throws {
        try withBackingScratch { scratch in
            try scratch.root.makeSymbolicLink("escape", target: "/etc")
            try scratch.root.makeSymbolicLink("passwd", target: "/etc/passwd")
            #expect(throws: Errno.tooManySymbolicLinkLevels) { try scratch.root.open("passwd", .readOnly) }
            // With O_DIRECTORY the kernel reports a trailing symlink it may
            // not follow as ENOTDIR rather than ELOOP.
            #expect(throws: Errno.notDirectory) {
                try scratch.root.open("escape", .readOnly, options: .directory)
            }
            #expect(throws: Errno.tooManySymbolicLinkLevels) {
                try scratch.root.open("passwd", .writeOnly, options: .create, permissions: .ownerReadWrite)
            }
            // The link's own O_PATH descriptor is not a directory to look in.
            let link = try scratch.openPath("escape")
            #expect(throws: Errno.notDirectory) { try link.stat("passwd") }
            #expect(throws: Errno.notDirectory) { try DirectoryStream(link) }
            #expect(try scratch.root.stat("escape").type == .symbolicLink)
        }
    }

    @Test("open with O_CREAT and O_EXCL on an existing file fails with EEXIST")
    func exclusiveCreate() throws {
        try withBackingScratch { scratch in
            try scratch.makeFile("file", text: "kept")
            #expect(throws: Errno.fileExists) {
                try scratch.root.open(
                    "file", .writeOnly, options: [.create, .exclusiveCreate], permissions: .ownerReadWrite)
            }
            #expect(try scratch.text(of: "file") == "kept")
        }
    }

    @Test("open with O_CREAT gives the requested mode, O_TRUNC empties and O_APPEND writes at the end")
    func createTruncateAppend() throws {
        try withBackingScratch { scratch in
            let created = try scratch.root.open(
                "file", .writeOnly, options: .create, permissions: [.ownerRead, .ownerWrite])
            _ = try created.writeAll("0123456789".utf8)
            #expect(try created.statDescriptor().permissions == [.ownerRead, .ownerWrite])
            try created.close()

            let truncated = try scratch.root.open("file", .writeOnly, options: .truncate)
            #expect(try truncated.statDescriptor().size == 0)
            _ = try truncated.writeAll("abc".utf8)
            try truncated.close()

            let appending = try scratch.root.open("file", .writeOnly, options: [.append, .noAccessTime])
            _ = try Array("def".utf8).withUnsafeBytes { try appending.write(at: 0, from: $0) }
            try appending.close()
            #expect(try scratch.text(of: "file") == "abcdef")
        }
    }

    @Test("opening a directory for writing fails with EISDIR")
    func directoryForWriting() throws {
        try withBackingScratch { scratch in
            try scratch.makeDirectory("dir")
            #expect(throws: Errno.isDirectory) { try scratch.root.open("dir", .readWrite) }
            let fd = try scratch.root.open("dir", .readOnly, options: .directory)
            try fd.close()
        }
    }

    @Test("a regular file used as a directory gives ENOTDIR")
    func fileAsDirectory() throws {
        try withBackingScratch { scratch in
            try scratch.makeFile("file")
            #expect(throws: Errno.notDirectory) { try scratch.root.open("file", .readOnly, options: .directory) }
            let fd = try scratch.open("file", .readOnly)
            #expect(throws: Errno.notDirectory) { try fd.stat("anything") }
            #expect(throws: Errno.notDirectory) { try fd.makeDirectory("sub", permissions: .ownerReadWriteExecute) }
        }
    }

    @Test("mkdir creates a directory with the requested mode and a second one fails with EEXIST")
    func makeDirectory() throws {
        try withBackingScratch { scratch in
            try scratch.root.makeDirectory("dir", permissions: .ownerReadWriteExecute)
            let stat = try scratch.root.stat("dir")
            #expect(stat.type == .directory)
            #expect(stat.permissions == .ownerReadWriteExecute)
            #expect(throws: Errno.fileExists) {
                try scratch.root.makeDirectory("dir", permissions: .ownerReadWriteExecute)
            }
        }
    }

    @Test("mknod creates a FIFO, a socket and a character device with its device number")
    func makeNodes() throws {
        try withBackingScratch { scratch in
            try scratch.root.makeNode("fifo", mode: FileMode(type: .fifo, permissions: .ownerReadWrite))
            try scratch.root.makeNode("socket", mode: FileMode(type: .socket, permissions: .ownerReadWrite))
            let null = DeviceID(major: 1, minor: 3)
            try scratch.root.makeNode(
                "null", mode: FileMode(type: .characterSpecial, permissions: .ownerReadWrite), device: null)
            #expect(try scratch.root.stat("fifo").type == .fifo)
            #expect(try scratch.root.stat("socket").type == .socket)
            let device = try scratch.root.stat("null")
            #expect(device.type == .characterSpecial)
            #expect(device.specialDeviceID == null)
            #expect(throws: Errno.fileExists) {
                try scratch.root.makeNode("fifo", mode: FileMode(type: .fifo, permissions: .ownerReadWrite))
            }
        }
    }

    @Test("device numbers split into the major and minor makedev(3) packed")
    func deviceNumbers() {
        let device = DeviceID(major: 259, minor: 65_537)
        #expect(device.major == 259)
        #expect(device.minor == 65_537)
        #expect(DeviceID(major: 1, minor: 3).rawValue == 0x103)
    }

    @Test("readlink returns the target bytes by name and from an O_PATH descriptor")
    func readLink() throws {
        try withBackingScratch { scratch in
            let target: [UInt8] = Array("../not/resolved//here/".utf8) + [0xff]
            try scratch.root.makeSymbolicLink("link", target: target)
            #expect(try scratch.root.readLink("link") == target)
            let fd = try scratch.openPath("link")
            #expect(try fd.readLink() == target)
            #expect(throws: Errno.invalidArgument) { try scratch.root.makeSymbolicLink("bad", target: [0x61, 0]) }
            #expect(throws: Errno.fileExists) { try scratch.root.makeSymbolicLink("link", target: "other") }
        }
    }

    @Test("readlink of a regular file fails with EINVAL")
    func readLinkOfFile() throws {
        try withBackingScratch { scratch in
            try scratch.makeFile("file")
            #expect(throws: Errno.invalidArgument) { try scratch.root.readLink("file") }
        }
    }

    @Test("unlink removes a file and refuses a directory with EISDIR")
    func unlink() throws {
        try withBackingScratch { scratch in
            try scratch.makeFile("file")
            try scratch.makeDirectory("dir")
            try scratch.root.remove("file")
            #expect(throws: Errno.isDirectory) { try scratch.root.remove("dir") }
            #expect(throws: Errno.noSuchFileOrDirectory) { try scratch.root.remove("file") }
            #expect(try scratch.names() == ["dir"])
        }
    }

    @Test("rmdir refuses a non-empty directory with ENOTEMPTY and a file with ENOTDIR")
    func rmdir() throws {
        try withBackingScratch { scratch in
            let dir = try scratch.makeDirectoryAndOpenPath("dir")
            try scratch.makeFile("inside", in: dir)
            try scratch.makeFile("file")
            #expect(throws: Errno.directoryNotEmpty) { try scratch.root.removeDirectory("dir") }
            #expect(throws: Errno.notDirectory) { try scratch.root.removeDirectory("file") }
            try dir.remove("inside")
            try scratch.root.removeDirectory("dir")
            #expect(try scratch.names() == ["file"])
        }
    }

    @Test("rename with RENAME_NOREPLACE over an existing file fails with EEXIST and changes nothing")
    func renameNoReplace() throws {
        try withBackingScratch { scratch in
            try scratch.makeFile("a", text: "A")
            try scratch.makeFile("b", text: "B")
            #expect(throws: Errno.fileExists) {
                try scratch.root.rename("a", to: scratch.root, as: "b", flags: .noReplace)
            }
            #expect(try scratch.text(of: "a") == "A")
            #expect(try scratch.text(of: "b") == "B")
            try scratch.root.rename("a", to: scratch.root, as: "c", flags: .noReplace)
            #expect(try scratch.names() == ["b", "c"])
        }
    }

    @Test("rename with RENAME_EXCHANGE swaps two entries, even a file and a directory")
    func renameExchange() throws {
        try withBackingScratch { scratch in
            try scratch.makeFile("a", text: "A")
            try scratch.makeDirectory("b")
            try scratch.root.rename("a", to: scratch.root, as: "b", flags: .exchange)
            #expect(try scratch.root.stat("a").type == .directory)
            #expect(try scratch.text(of: "b") == "A")
            #expect(throws: Errno.noSuchFileOrDirectory) {
                try scratch.root.rename("a", to: scratch.root, as: "absent", flags: .exchange)
            }
        }
    }

    @Test("rename with RENAME_WHITEOUT leaves a whiteout, a 0:0 character device, at the source")
    func renameWhiteout() throws {
        try withBackingScratch { scratch in
            try scratch.makeFile("a", text: "A")
            try scratch.root.rename("a", to: scratch.root, as: "b", flags: .whiteout)
            let whiteout = try scratch.root.stat("a")
            #expect(whiteout.type == .characterSpecial)
            #expect(whiteout.specialDeviceID == DeviceID(major: 0, minor: 0))
            #expect(try scratch.text(of: "b") == "A")
        }
    }

    @Test("a plain rename moves across directories and replaces the target")
    func renamePlain() throws {
        try withBackingScratch { scratch in
            let dir = try scratch.makeDirectoryAndOpenPath("dir")
            try scratch.makeFile("a", text: "A")
            try scratch.makeFile("b", in: dir, text: "B")
            try scratch.root.rename("a", to: dir, as: "b")
            #expect(try scratch.names() == ["dir"])
            #expect(try dir.stat("b").size == 1)
            #expect(throws: Errno.noSuchFileOrDirectory) { try scratch.root.rename("a", to: dir, as: "c") }
        }
    }

    @Test("link by name adds a second name for the same inode, a symlink's link included")
    func linkByName() throws {
        try withBackingScratch { scratch in
            let stat = try scratch.makeFile("a")
            try scratch.root.link("a", to: scratch.root, as: "b")
            let linked = try scratch.root.stat("b")
            #expect(linked.inode == stat.inode)
            #expect(linked.linkCount == 2)
            try scratch.root.makeSymbolicLink("sym", target: "a")
            try scratch.root.link("sym", to: scratch.root, as: "sym2")
            #expect(try scratch.root.stat("sym2").type == .symbolicLink)
            #expect(throws: Errno.fileExists) { try scratch.root.link("a", to: scratch.root, as: "b") }
        }
    }

    @Test("link from an O_PATH descriptor adds a name for its inode even after a rename")
    func linkFromDescriptor() throws {
        try withBackingScratch { scratch in
            let stat = try scratch.makeFile("a")
            let fd = try scratch.openPath("a")
            try scratch.root.rename("a", to: scratch.root, as: "moved")
            try fd.link(into: scratch.root, as: "b")
            #expect(try scratch.root.stat("b").inode == stat.inode)
            #expect(throws: Errno.fileExists) { try fd.link(into: scratch.root, as: "moved") }
        }
    }

    @Test("reopen turns an O_PATH descriptor into a readable one after its name is renamed")
    func reopen() throws {
        try withBackingScratch { scratch in
            let path = try scratch.makeFileAndOpenPath("a", text: "hello")
            try scratch.root.rename("a", to: scratch.root, as: "b")
            #expect(throws: Errno.badFileDescriptor) {
                _ = try [UInt8](repeating: 0, count: 1).withUnsafeBytes { try path.write(at: 0, from: $0) }
            }
            let reopened = try path.reopen(.readWrite, options: [.noFollow, .create])
            defer { try? reopened.close() }
            var buffer = [UInt8](repeating: 0, count: 5)
            _ = try buffer.withUnsafeMutableBytes { try reopened.read(at: 0, into: $0) }
            #expect(String(decoding: buffer, as: UTF8.self) == "hello")
        }
    }

    @Test("reopen of a symlink's O_PATH descriptor fails with ELOOP")
    func reopenSymlink() throws {
        try withBackingScratch { scratch in
            try scratch.makeTargetAndLink()
            let link = try scratch.openPath("link")
            #expect(throws: Errno.tooManySymbolicLinkLevels) { try link.reopen(.readOnly) }
        }
    }

    @Test("a duplicated descriptor refers to the same file and closes on exec")
    func duplicate() throws {
        try withBackingScratch { scratch in
            let copy = try scratch.root.duplicateDescriptor()
            defer { try? copy.close() }
            #expect(copy != scratch.root)
            #expect(try copy.statDescriptor().inode == scratch.backing.rootStat.inode)
            #expect(fcntl(copy.rawValue, F_GETFD) & FD_CLOEXEC != 0)
        }
    }
}
