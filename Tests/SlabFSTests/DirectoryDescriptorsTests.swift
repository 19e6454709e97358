import DCache
import Dispatch
import Glibc
@testable import SlabFS
import Synchronization
import SystemPackage
import Testing

/// The bounded cache of directory descriptors: each body gets a live
/// descriptor of the directory it asked for, however slots are evicted,
/// forgotten or reused meanwhile.
@Suite("DirectoryDescriptors")
struct DirectoryDescriptorsTests {
    /// Scratch directories d0..d(count-1), with their inode numbers.
    private func withDirectories(_ count: Int, _ body: (BackingScratch, [UInt64]) throws -> Void) throws {
        try withBackingScratch { scratch in
            var inodes: [UInt64] = []
            for index in 0..<count {
                let name = try BackingName(validating: "d\(index)")
                try scratch.root.makeDirectory(name, permissions: .ownerReadWriteExecute)
                inodes.append(UInt64(try scratch.root.stat(name).rawValue.st_ino))
            }
            try body(scratch, inodes)
        }
    }

    /// Counts the opens of one test (single-threaded).
    private final class Counter { var value = 0 }

    private func opener(_ scratch: BackingScratch, _ index: Int, opened: Counter? = nil) -> () throws -> FileDescriptor {
        {
            opened?.value += 1
            return try scratch.root.openPath(try BackingName(validating: "d\(index)"))
        }
    }

    private func inode(of descriptor: FileDescriptor) throws -> UInt64 {
        UInt64(try descriptor.statDescriptor().rawValue.st_ino)
    }

    private func isOpen(_ descriptor: CInt) -> Bool { fcntl(descriptor, F_GETFD) >= 0 }

    /// Whether `descriptor` is open on the scratch directory with `inode`.
    /// Tests run in parallel, so a closed number may already be reused by
    /// another test's open: "closed" is "no longer that directory".
    private func isOpen(_ descriptor: CInt, on inode: UInt64, in scratch: BackingScratch) throws -> Bool {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return false }
        let device = try scratch.root.statDescriptor().rawValue.st_dev
        return status.st_dev == device && UInt64(status.st_ino) == inode
    }

    @Test("a directory used again reuses its descriptor: opened once")
    func reuse() throws {
        try withDirectories(1) { scratch, inodes in
            let cache = DirectoryDescriptors(capacity: 4)
            let opened = Counter()
            var seen: Set<CInt> = []
            for _ in 0..<10 {
                try cache.withDescriptor(node: NodeID(2), generation: 1, open: opener(scratch, 0, opened: opened)) {
                    let found = try inode(of: $0)
                    #expect(found == inodes[0])
                    seen.insert($0.rawValue)
                }
            }
            #expect(opened.value == 1)
            #expect(seen.count == 1)
            #expect(cache.openCount == 1)
        }
    }

    @Test("never more descriptors than the capacity; an evicted one is closed and opened again on demand")
    func capacity() throws {
        try withDirectories(6) { scratch, inodes in
            let cache = DirectoryDescriptors(capacity: 2)
            var raw: [Int: CInt] = [:]
            for round in 0..<3 {
                for index in 0..<6 {
                    try cache.withDescriptor(node: NodeID(UInt64(index + 2)), generation: 1,
                                             open: opener(scratch, index)) {
                        let found = try inode(of: $0)
                        #expect(found == inodes[index], "round \(round), d\(index)")
                        raw[index] = $0.rawValue
                    }
                    #expect(cache.openCount <= 2)
                }
            }
            // d0 was evicted long ago: its old number is closed or reused by
            // a cached descriptor of another directory, never still d0's.
            if isOpen(raw[0]!) {
                #expect(try inode(of: FileDescriptor(rawValue: raw[0]!)) != inodes[0])
            }
        }
    }

    @Test("a node id reused with a new generation gets its own directory, and the old descriptor is closed")
    func generation() throws {
        try withDirectories(2) { scratch, inodes in
            let cache = DirectoryDescriptors(capacity: 4)
            try cache.withDescriptor(node: NodeID(7), generation: 1, open: opener(scratch, 0)) {
                let found = try inode(of: $0)
                #expect(found == inodes[0])
            }
            try cache.withDescriptor(node: NodeID(7), generation: 2, open: opener(scratch, 1)) {
                let found = try inode(of: $0)
                #expect(found == inodes[1])
            }
            #expect(cache.openCount == 1)
        }
    }

    @Test("a descriptor in use survives eviction and forget; the last user closes it")
    func inUse() throws {
        try withDirectories(2) { scratch, inodes in
            let cache = DirectoryDescriptors(capacity: 1)
            var held: CInt = -1
            try cache.withDescriptor(node: NodeID(2), generation: 1, open: opener(scratch, 0)) { outer in
                held = outer.rawValue
                // The only slot is busy: d1 is opened for the call and closed after.
                try cache.withDescriptor(node: NodeID(3), generation: 1, open: opener(scratch, 1)) {
                    let found = try inode(of: $0)
                    #expect(found == inodes[1])
                }
                cache.forget(NodeID(2))
                #expect(isOpen(outer.rawValue))
                let found = try inode(of: outer)
                #expect(found == inodes[0])
            }
            #expect(try !isOpen(held, on: inodes[0], in: scratch))
            #expect(cache.openCount == 0)
        }
    }

    @Test("threads sharing a small cache always get the directory they asked for")
    func concurrent() throws {
        try withDirectories(8) { scratch, inodes in
            let cache = DirectoryDescriptors(capacity: 3)
            let failures = Atomic(0)
            let root = scratch.root.rawValue
            let open = { @Sendable (index: Int) throws -> FileDescriptor in
                try FileDescriptor(rawValue: root).openPath(try BackingName(validating: "d\(index)"))
            }
            DispatchQueue.concurrentPerform(iterations: 4) { thread in
                var state = UInt64(thread + 1) &* 0x9E37_79B9_7F4A_7C15
                for _ in 0..<2000 {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    let index = Int(state >> 61)
                    do {
                        try cache.withDescriptor(node: NodeID(UInt64(index + 2)), generation: 1,
                                                 open: { try open(index) }) { descriptor in
                            let found = UInt64(try descriptor.statDescriptor().rawValue.st_ino)
                            if found != inodes[index] { failures.add(1, ordering: .relaxed) }
                        }
                        if state & 0xFF == 0 { cache.forget(NodeID(UInt64(index + 2))) }
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
            #expect(failures.load(ordering: .relaxed) == 0)
            #expect(cache.openCount <= 3)
        }
    }
}
