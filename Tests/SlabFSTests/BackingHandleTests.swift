import Glibc
@testable import SlabFS
import SystemPackage
import Testing

@Suite("File handles")
struct BackingHandleTests {
    @Test("a file handle reopens the file after the name is renamed")
    func survivesRename() throws {
        try withBackingScratch { scratch in
            try scratch.makeFile("before", text: "contents")
            let handle = try scratch.backing.handle(of: "before", in: scratch.root)
            try scratch.root.rename("before", to: scratch.root, as: "after")
            let fd = try scratch.keep(scratch.backing.open(handle, .readOnly))
            #expect(try fd.statDescriptor().inode == scratch.root.stat("after").inode)
            var buffer = [UInt8](repeating: 0, count: 16)
            let count = try buffer.withUnsafeMutableBytes { try fd.read(at: 0, into: $0) }
            #expect(String(decoding: buffer[..<count], as: UTF8.self) == "contents")
        }
    }

    @Test("a handle rebuilt from its type and bytes opens the same file")
    func rebuiltFromBytes() throws {
        try withBackingScratch { scratch in
            let stat = try scratch.makeFile("file")
            let handle = try scratch.backing.handle(of: "file", in: scratch.root)
            #expect(handle.bytes.count > 0 && handle.bytes.count <= HandleBytes.capacity)
            let stored = Array(handle.bytes)
            let rebuilt = try #require(BackingHandle(type: handle.type, bytes: stored))
            #expect(rebuilt == handle)
            #expect(rebuilt.hashValue == handle.hashValue)
            let fd = try scratch.keep(scratch.backing.open(rebuilt, .readOnly, options: .path))
            #expect(try fd.statDescriptor().inode == stat.inode)
        }
    }

    @Test("a handle taken from a descriptor equals the one taken by name")
    func fromDescriptor() throws {
        try withBackingScratch { scratch in
            let fd = try scratch.makeFileAndOpenPath("file")
            #expect(try scratch.backing.handle(of: fd) == scratch.backing.handle(of: "file", in: scratch.root))
        }
    }

    @Test("more than 128 handle bytes cannot make a handle")
    func tooLong() {
        #expect(HandleBytes([UInt8](repeating: 1, count: 128)) != nil)
        #expect(HandleBytes([UInt8](repeating: 1, count: 129)) == nil)
        #expect(BackingHandle(type: 1, bytes: [UInt8](repeating: 1, count: 129)) == nil)
    }

    @Test("a handle of a deleted file fails with ESTALE")
    func stale() throws {
        try withBackingScratch { scratch in
            try scratch.makeFile("doomed")
            let handle = try scratch.backing.handle(of: "doomed", in: scratch.root)
            try scratch.root.remove("doomed")
            #expect(throws: Errno.staleNFSFileHandle) { try scratch.backing.open(handle, .readOnly) }
        }
    }

    @Test("a handle of a missing name fails with ENOENT")
    func missing() throws {
        try withBackingScratch { scratch in
            #expect(throws: Errno.noSuchFileOrDirectory) {
                try scratch.backing.handle(of: "absent", in: scratch.root)
            }
        }
    }

    @Test("a symlink's handle names the link: O_PATH opens it, anything else gives ELOOP")
    func symlinkHandle() throws {
        try withBackingScratch { scratch in
            try scratch.makeTargetAndLink()
            let handle = try scratch.backing.handle(of: "link", in: scratch.root)
            let fd = try scratch.keep(scratch.backing.open(handle, .readOnly, options: .path))
            #expect(try fd.statDescriptor().type == .symbolicLink)
            #expect(throws: Errno.tooManySymbolicLinkLevels) { try scratch.backing.open(handle, .readOnly) }
        }
    }

    @Test("lookup returns the attributes and a handle of the same inode")
    func lookup() throws {
        try withBackingScratch { scratch in
            let stat = try scratch.makeFile("file", text: "x")
            let found = try scratch.backing.lookup("file", in: scratch.root)
            #expect(found.stat.inode == stat.inode)
            #expect(found.stat.size == 1)
            guard case .handle(let handle) = found.locator else {
                Issue.record("ext4 and tmpfs give handles, got \(found.locator)")
                return
            }
            let fd = try scratch.keep(scratch.backing.open(found.locator, .readOnly))
            #expect(try fd.statDescriptor().inode == stat.inode)
            #expect(try scratch.backing.handle(of: fd) == handle)
            #expect(throws: Errno.noSuchFileOrDirectory) { try scratch.backing.lookup("absent", in: scratch.root) }
        }
    }

    @Test("the root locator opens the backing root, and withDescriptor lends an O_PATH descriptor")
    func rootLocator() throws {
        try withBackingScratch { scratch in
            let locator = try scratch.backing.rootLocator()
            let inode = try scratch.backing.withDescriptor(for: locator) { (fd) throws(Errno) in
                try fd.statDescriptor().inode
            }
            #expect(inode == scratch.backing.rootStat.inode)
            #expect(scratch.backing.supportsHandles)
        }
    }

    @Test("open_by_handle_at rejects an O_PATH mount descriptor with EBADF, hence the separate mount descriptor")
    func mountMustNotBePath() throws {
        try withBackingScratch { scratch in
            try scratch.makeFile("file")
            let handle = try scratch.backing.handle(of: "file", in: scratch.root)
            #expect(throws: Errno.badFileDescriptor) { try handle.open(mount: scratch.root, flags: O_RDONLY) }
            let fd = try handle.open(mount: scratch.backing.mount, flags: O_RDONLY)
            try fd.close()
        }
    }

    @Test("a backing directory without file handles falls back to O_PATH descriptors")
    func noHandles() throws {
        // procfs has no export operations: name_to_handle_at is EOPNOTSUPP there.
        let proc = try BackingDirectory(path: "/proc/self")
        defer { proc.close() }
        #expect(!proc.supportsHandles)
        #expect(throws: Errno.notSupported) { try proc.handle(of: "status", in: proc.root) }
        let found = try proc.lookup("status", in: proc.root)
        guard case .descriptor(let fd) = found.locator else {
            Issue.record("expected an O_PATH descriptor, got \(found.locator)")
            return
        }
        defer { try? fd.close() }
        let reopened = try proc.open(found.locator, .readOnly)
        defer { try? reopened.close() }
        var buffer = [UInt8](repeating: 0, count: 5)
        _ = try buffer.withUnsafeMutableBytes { try reopened.read(at: 0, into: $0) }
        #expect(String(decoding: buffer, as: UTF8.self) == "Name:")
        let duplicate = try proc.open(found.locator, .readOnly, options: .path)
        #expect(duplicate != fd)
        try duplicate.close()
    }
}
