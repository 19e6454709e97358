import Glibc
@testable import SlabFS
import SystemPackage
import Testing

@Suite("Directory listings")
struct BackingDirectoryStreamTests {
    /// Every entry left in `stream`.
    func drain(_ stream: DirectoryStream) throws -> [DirectoryEntry] {
        var entries: [DirectoryEntry] = []
        while let entry = try stream.next() { entries.append(entry) }
        return entries
    }

    @Test("a listing returns every entry once with its inode and type, \".\" and \"..\" included")
    func listing() throws {
        try withBackingScratch { scratch in
            let file = try scratch.makeFile("file")
            try scratch.makeDirectory("dir")
            try scratch.root.makeSymbolicLink("link", target: "file")
            let entries = try drain(DirectoryStream(scratch.root))
            let byName = Dictionary(uniqueKeysWithValues: entries.map { (String(decoding: $0.name, as: UTF8.self), $0) })
            #expect(entries.count == 5)
            #expect(Set(byName.keys) == [".", "..", "file", "dir", "link"])
            #expect(byName["file"]?.inode == UInt64(file.inode.rawValue))
            #expect(byName["file"]?.type == .regular)
            #expect(byName["dir"]?.type == .directory)
            #expect(byName["link"]?.type == .symbolicLink)
            #expect(byName["."]?.isDotOrDotDot == true && byName["."]?.backingName == nil)
            #expect(byName[".."]?.isDotOrDotDot == true)
            #expect(byName["file"]?.backingName == "file")
            #expect(byName["file"]?.withCString { String(cString: $0) } == "file")
        }
    }

    @Test("seeking to an entry's offset resumes the listing right after it, within a batch and beyond")
    func seekResumes() throws {
        try withBackingScratch { scratch in
            // Long names so the listing takes several 32 KiB getdents64 batches.
            let count = 600
            for index in 0..<count {
                try scratch.makeFile(BackingName(validating: "\(index)-" + String(repeating: "x", count: 100)))
            }
            let stream = try DirectoryStream(scratch.root)
            let all = try drain(stream)
            #expect(all.count == count + 2)
            #expect(Set(all.map(\.name)).count == count + 2)

            for cut in [0, 1, 5, 250, 400, all.count - 1] {
                try stream.seek(to: all[cut].nextOffset)
                #expect(stream.offset == all[cut].nextOffset)
                #expect(try drain(stream).map(\.name) == all[(cut + 1)...].map(\.name))
            }
            // Back by one entry within the buffered batch, as a FUSE reply
            // that had no room for the last entry asks.
            try stream.seek(to: 0)
            let first = try #require(try stream.next())
            let second = try #require(try stream.next())
            try stream.seek(to: first.nextOffset)
            #expect(try stream.next() == second)
        }
    }

    @Test("reading in place gives the entries, names and offsets next() gives, across batches and seeks")
    func inPlaceMatchesNext() throws {
        try withBackingScratch { scratch in
            // Several 32 KiB getdents64 batches, and names of every length class.
            for index in 0..<600 {
                try scratch.makeFile(BackingName(validating: "\(index)-" + String(repeating: "y", count: index % 200)))
            }
            let stream = try DirectoryStream(scratch.root)
            let copied = try drain(stream)
            /// Every entry left, read in place and copied at once.
            func drainInPlace() throws -> [DirectoryEntry] {
                var entries: [DirectoryEntry] = []
                while let entry = try stream.nextInPlace() {
                    #expect(Array(entry.nameBytes) == Array(UnsafeRawBufferPointer(start: entry.cName, count: strlen(entry.cName))))
                    #expect(entry.isDotOrDotDot == (entry.backingName == nil))
                    if let name = entry.backingName { #expect(name.bytes == Array(entry.nameBytes)) }
                    entries.append(DirectoryEntry(entry))
                }
                return entries
            }
            try stream.seek(to: 0)
            let inPlace = try drainInPlace()
            #expect(inPlace == copied)
            #expect(inPlace.filter(\.isDotOrDotDot).map(\.name) .sorted { $0.count < $1.count } == [Array(".".utf8), Array("..".utf8)])
            for cut in [0, 1, 300, copied.count - 1] {
                try stream.seek(to: copied[cut].nextOffset)
                #expect(try drainInPlace() == Array(copied[(cut + 1)...]))
            }
        }
    }

    @Test("seeking to 0 restarts the listing and sees entries added since")
    func rewind() throws {
        try withBackingScratch { scratch in
            try scratch.makeFile("a")
            let stream = try DirectoryStream(scratch.root)
            #expect(try drain(stream).count == 3)
            try scratch.makeFile("b")
            try stream.seek(to: 0)
            #expect(try drain(stream).count == 4)
        }
    }

    @Test("a stream on a directory opened by handle, adopting its descriptor")
    func adopting() throws {
        try withBackingScratch { scratch in
            let dir = try scratch.makeDirectoryAndOpenPath("dir")
            try scratch.makeFile("inside", in: dir)
            let handle = try scratch.backing.handle(of: "dir", in: scratch.root)
            let fd = try scratch.backing.open(handle, .readOnly, options: .directory)
            let names = try drain(DirectoryStream(adopting: fd)).filter { !$0.isDotOrDotDot }.map(\.name)
            #expect(names == [Array("inside".utf8)])
        }
    }

    @Test("a stream on a regular file fails with ENOTDIR")
    func notDirectory() throws {
        try withBackingScratch { scratch in
            let fd = try scratch.makeFileAndOpenPath("file")
            #expect(throws: Errno.notDirectory) { try DirectoryStream(fd) }
        }
    }
}
