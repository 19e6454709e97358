import Glibc
@testable import SlabFS
import SystemPackage
import Testing

@Suite("File contents")
struct BackingDataTests {
    @Test("pwrite and pread work at offsets and leave the file position alone")
    func positionedIO() throws {
        try withBackingScratch { scratch in
            let fd = try scratch.open("file", .readWrite, options: .create, permissions: .ownerReadWrite)
            #expect(try Array("world".utf8).withUnsafeBytes { try fd.write(at: 6, from: $0) } == 5)
            #expect(try Array("hello ".utf8).withUnsafeBytes { try fd.write(at: 0, from: $0) } == 6)
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = try buffer.withUnsafeMutableBytes { try fd.read(at: 0, into: $0) }
            #expect(String(decoding: buffer[..<count], as: UTF8.self) == "hello world")
            #expect(try buffer.withUnsafeMutableBytes { try fd.read(at: 100, into: $0) } == 0)
            #expect(lseek(fd.rawValue, 0, SEEK_CUR) == 0)
        }
    }

    @Test("I/O through an O_PATH descriptor fails with EBADF")
    func pathDescriptorIO() throws {
        try withBackingScratch { scratch in
            let path = try scratch.makeFileAndOpenPath("file", text: "x")
            var buffer = [UInt8](repeating: 0, count: 1)
            #expect(throws: Errno.badFileDescriptor) {
                _ = try buffer.withUnsafeMutableBytes { try path.read(at: 0, into: $0) }
            }
            #expect(throws: Errno.badFileDescriptor) { try path.synchronize() }
        }
    }

    @Test("fsync and fdatasync succeed on a written file")
    func sync() throws {
        try withBackingScratch { scratch in
            let fd = try scratch.open("file", .writeOnly, options: .create, permissions: .ownerReadWrite)
            _ = try fd.writeAll("data".utf8)
            try fd.synchronize()
            try fd.synchronize(dataOnly: true)
            let directory = try DirectoryStream(scratch.root)
            try directory.descriptor.synchronize()
        }
    }

    @Test("fallocate extends a file, and punching a hole keeps the size and reads zeros")
    func allocate() throws {
        try withBackingScratch { scratch in
            let fd = try scratch.open("file", .readWrite, options: .create, permissions: .ownerReadWrite)
            try fd.allocate(offset: 0, length: 65536)
            #expect(try fd.statDescriptor().size == 65536)
            try fd.allocate(offset: 65536, length: 65536, mode: .keepSize)
            #expect(try fd.statDescriptor().size == 65536)

            let ones = [UInt8](repeating: 1, count: 65536)
            _ = try ones.withUnsafeBytes { try fd.write(at: 0, from: $0) }
            try fd.allocate(offset: 4096, length: 8192, mode: [.punchHole, .keepSize])
            #expect(try fd.statDescriptor().size == 65536)
            var buffer = [UInt8](repeating: 9, count: 3 * 4096)
            _ = try buffer.withUnsafeMutableBytes { try fd.read(at: 4096 - 1, into: $0) }
            #expect(buffer[0] == 1)
            #expect(buffer[1...8192].allSatisfy { $0 == 0 })
            #expect(buffer[8193] == 1)
            try fd.allocate(offset: 0, length: 2, mode: .zeroRange)
            _ = try buffer.withUnsafeMutableBytes { try fd.read(at: 0, into: $0) }
            #expect(buffer[0...2] == [0, 0, 1])
            // A hole must keep the size: without keepSize the kernel refuses.
            #expect(throws: Errno.notSupported) { try fd.allocate(offset: 0, length: 4096, mode: .punchHole) }
        }
    }

    @Test("SEEK_DATA and SEEK_HOLE find the data after a hole and the hole after it")
    func seekDataAndHole() throws {
        try withBackingScratch { scratch in
            let fd = try scratch.open("file", .readWrite, options: .create, permissions: .ownerReadWrite)
            let block = [UInt8](repeating: 7, count: 4096)
            let dataStart: Int64 = 1 << 20
            _ = try block.withUnsafeBytes { try fd.write(at: dataStart, from: $0) }
            try fd.truncate(to: 2 << 20)
            #expect(try fd.seek(toNext: .data, from: 0) == dataStart)
            #expect(try fd.seek(toNext: .hole, from: dataStart) == dataStart + 4096)
            #expect(try fd.seek(toNext: .hole, from: 0) == 0)
            #expect(throws: Errno.noSuchAddressOrDevice) { try fd.seek(toNext: .data, from: dataStart + 4096) }
        }
    }

    @Test("copy_file_range copies bytes between files without moving either file position")
    func copyRange() throws {
        try withBackingScratch { scratch in
            let source = try scratch.makeFileAndOpen("source", .readOnly, text: "0123456789")
            let target = try scratch.open("target", .readWrite, options: .create, permissions: .ownerReadWrite)
            #expect(try source.copyRange(from: 2, to: target, at: 1, count: 5) == 5)
            #expect(try source.copyRange(from: 8, to: target, at: 6, count: 100) == 2)
            #expect(try source.copyRange(from: 10, to: target, at: 0, count: 100) == 0)
            #expect(lseek(source.rawValue, 0, SEEK_CUR) == 0)
            #expect(lseek(target.rawValue, 0, SEEK_CUR) == 0)
            #expect(try scratch.text(of: "target") == "\0" + "23456" + "89")
        }
    }
}
