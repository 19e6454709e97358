import Glibc
@testable import SlabFS
import SystemPackage
import Testing

@Suite("Attributes")
struct BackingAttributeTests {
    @Test("chmod through an O_PATH descriptor and through an open one changes the mode")
    func chmod() throws {
        try withBackingScratch { scratch in
            let path = try scratch.makeFileAndOpenPath("file")
            try path.setPermissions([.ownerRead, .groupRead, .setUserID])
            #expect(try scratch.root.stat("file").permissions == [.ownerRead, .groupRead, .setUserID])
            let open = try scratch.open("file", .readOnly)
            try open.setPermissions(.ownerReadWrite)
            #expect(try scratch.root.stat("file").permissions == .ownerReadWrite)
        }
    }

    @Test("chmod of a symlink fails with EOPNOTSUPP and leaves its target alone")
    func chmodSymlink() throws {
        try withBackingScratch { scratch in
            try scratch.makeTargetAndLink(permissions: .ownerReadWrite)
            let link = try scratch.openPath("link")
            #expect(throws: Errno.notSupported) { try link.setPermissions(.ownerRead) }
            #expect(try scratch.root.stat("target").permissions == .ownerReadWrite)
        }
    }

    @Test("chown of a symlink changes the link and not its target; nil keeps an id")
    func chownSymlink() throws {
        try withBackingScratch { scratch in
            try scratch.makeTargetAndLink()
            let link = try scratch.openPath("link")
            try link.setOwner(user: UserID(rawValue: 1234), group: nil)
            let stat = try scratch.root.stat("link")
            #expect(stat.userID == UserID(rawValue: 1234))
            #expect(stat.groupID == GroupID(rawValue: 0))
            #expect(try scratch.root.stat("target").userID == UserID(rawValue: 0))
            try link.setOwner(user: nil, group: GroupID(rawValue: 99))
            #expect(try scratch.root.stat("link").userID == UserID(rawValue: 1234))
            #expect(try scratch.root.stat("link").groupID == GroupID(rawValue: 99))
        }
    }

    @Test("truncate works through a writable descriptor and through an O_PATH one")
    func truncate() throws {
        try withBackingScratch { scratch in
            let writable = try scratch.makeFileAndOpen("file", .writeOnly, text: "0123456789")
            try writable.truncate(to: 4)
            #expect(try scratch.text(of: "file") == "0123")
            let path = try scratch.openPath("file")
            try path.truncate(to: 2)
            #expect(try scratch.text(of: "file") == "01")
            try path.truncate(to: 4096)
            #expect(try scratch.root.stat("file").size == 4096)
        }
    }

    @Test("truncate through a read-only descriptor fails with EINVAL, and of a directory with EISDIR")
    func truncateRefused() throws {
        try withBackingScratch { scratch in
            let readOnly = try scratch.makeFileAndOpen("file", .readOnly, text: "kept")
            #expect(throws: Errno.invalidArgument) { try readOnly.truncate(to: 0) }
            #expect(try scratch.text(of: "file") == "kept")
            let root = scratch.root
            #expect(throws: Errno.isDirectory) { try root.truncate(to: 0) }
        }
    }

    @Test("setTimes sets exact times, leaves an omitted one alone and sets now")
    func times() throws {
        try withBackingScratch { scratch in
            let path = try scratch.makeFileAndOpenPath("file")
            try path.setTimes(
                access: .to(seconds: 1_000_000_000, nanoseconds: 123), modification: .to(seconds: 42, nanoseconds: 7))
            var stat = try scratch.root.stat("file")
            #expect(stat.st_atim.tv_sec == 1_000_000_000 && stat.st_atim.tv_nsec == 123)
            #expect(stat.st_mtim.tv_sec == 42 && stat.st_mtim.tv_nsec == 7)

            try path.setTimes(access: .unchanged, modification: .now)
            stat = try scratch.root.stat("file")
            #expect(stat.st_atim.tv_sec == 1_000_000_000)
            #expect(stat.st_mtim.tv_sec > 1_600_000_000)

            let open = try scratch.open("file", .readOnly)
            try open.setTimes(access: TimestampUpdate(timespec(tv_sec: 5, tv_nsec: 0)), modification: .unchanged)
            #expect(try scratch.root.stat("file").st_atim.tv_sec == 5)
        }
    }

    @Test("setTimes on a symlink's O_PATH descriptor changes the link itself")
    func timesOfSymlink() throws {
        try withBackingScratch { scratch in
            try scratch.makeFile("target")
            let targetBefore = try scratch.root.stat("target").st_mtim
            try scratch.root.makeSymbolicLink("link", target: "target")
            let link = try scratch.openPath("link")
            try link.setTimes(access: .to(seconds: 77, nanoseconds: 0), modification: .to(seconds: 88, nanoseconds: 0))
            #expect(try scratch.root.stat("link").st_mtim.tv_sec == 88)
            #expect(try scratch.root.stat("target").st_mtim.tv_sec == targetBefore.tv_sec)
        }
    }

    @Test("the /proc route for times, taken on kernels without utimensat(AT_EMPTY_PATH), changes the file and a symlink itself")
    func timesThroughProc() throws {
        try withBackingScratch { scratch in
            try scratch.makeTargetAndLink()
            let target = try scratch.openPath("target")
            let link = try scratch.openPath("link")
            try target.setTimes(access: .unchanged, modification: .to(seconds: 11, nanoseconds: 0), throughProc: true)
            try link.setTimes(access: .unchanged, modification: .to(seconds: 22, nanoseconds: 0), throughProc: true)
            #expect(try scratch.root.stat("target").st_mtim.tv_sec == 11)
            #expect(try scratch.root.stat("link").st_mtim.tv_sec == 22)
        }
    }

    @Test("statfs reports the backing filesystem, through an O_PATH descriptor too")
    func statfs() throws {
        try withBackingScratch { scratch in
            let statistics = try scratch.root.fileSystemStatistics()
            // The same call on an ordinary descriptor of the same directory.
            let plain = open(scratch.path, O_RDONLY | O_DIRECTORY)
            defer { close(plain) }
            var expected = statvfs()
            #expect(fstatvfs(plain, &expected) == 0)
            #expect(statistics.blockSize == Int(expected.f_bsize))
            #expect(statistics.blockCount == UInt64(expected.f_blocks))
            #expect(statistics.fileCount == UInt64(expected.f_files))
            #expect(statistics.maximumNameLength == 255)
            #expect(statistics.availableBlocks <= statistics.freeBlocks)
            #expect(statistics.fragmentSize > 0 && statistics.freeFiles > 0)
        }
    }
}
