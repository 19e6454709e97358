import DCache
import Dispatch
import Glibc
@testable import SlabFS
import Synchronization
import SystemPackage
import Testing

/// The handle table's calls by node: a duplicate of an open handle's
/// descriptor is of the file that handle opened, for that node and backing
/// identity only, and never of a handle already released.
@Suite("HandleTable")
struct HandleTableTests {
    /// Files f0..f(count-1) in a scratch directory, with their identities.
    private func withFiles(_ count: Int, _ body: (BackingScratch, [BackingIdentity]) throws -> Void) throws {
        try withBackingScratch { scratch in
            let identities = try (0..<count).map { index in
                let status = try scratch.makeFile(BackingName(validating: "f\(index)")).rawValue
                return BackingIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
            }
            try body(scratch, identities)
        }
    }

    /// Files f0..f(count-1) in a scratch directory, open for reading (closed
    /// when the scratch is), with their identities.
    private func withOpenFiles(_ count: Int, _ body: (BackingScratch, [FileDescriptor], [BackingIdentity]) throws -> Void) throws {
        try withFiles(count) { scratch, identities in
            let descriptors = try (0..<count).map { try scratch.open(BackingName(validating: "f\($0)"), .readOnly) }
            try body(scratch, descriptors, identities)
        }
    }

    private func entry(_ descriptor: FileDescriptor, node: UInt64, _ identity: BackingIdentity) -> HandleTable.Entry {
        .init(rawDescriptor: descriptor.rawValue, node: NodeID(node), identity: identity, directory: nil)
    }

    private func identity(of descriptor: FileDescriptor) throws -> BackingIdentity {
        let status = try descriptor.statDescriptor().rawValue
        return BackingIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    @Test("a node's open handle lends a duplicate of its own descriptor")
    func duplicateOfTheNodesFile() throws {
        try withOpenFiles(2) { _, files, identities in
            let table = HandleTable()
            _ = table.insert(entry(files[0], node: 2, identities[0]))
            _ = table.insert(entry(files[1], node: 3, identities[1]))
            for (node, index) in [(UInt64(2), 0), (3, 1)] {
                let copy = try #require(table.duplicateDescriptor(of: NodeID(node), identity: identities[index]))
                defer { try? copy.close() }
                #expect(copy.rawValue != files[index].rawValue)
                #expect(try identity(of: copy) == identities[index])
            }
            #expect(table.duplicateDescriptor(of: NodeID(4), identity: identities[0]) == nil)
        }
    }

    @Test("a reused node id does not reach the file its old handle opened")
    func identityMustMatch() throws {
        try withOpenFiles(2) { _, files, identities in
            let table = HandleTable()
            _ = table.insert(entry(files[0], node: 2, identities[0]))
            #expect(table.duplicateDescriptor(of: NodeID(2), identity: identities[1]) == nil)
        }
    }

    @Test("with two handles on a node, releasing one leaves the other's; releasing both, none")
    func releasedHandlesLendNothing() throws {
        try withOpenFiles(1) { scratch, files, identities in
            let second = try scratch.open(try BackingName(validating: "f0"), .readOnly)
            let table = HandleTable()
            let first = table.insert(entry(files[0], node: 2, identities[0]))
            let other = table.insert(entry(second, node: 2, identities[0]))
            _ = table.remove(other)
            let copy = try #require(table.duplicateDescriptor(of: NodeID(2), identity: identities[0]))
            try copy.close()
            _ = table.remove(first)
            #expect(table.duplicateDescriptor(of: NodeID(2), identity: identities[0]) == nil)
            #expect(table.count == 0)
            // Ids are reused: a handle of another node in the old slot is
            // not lent for node 2.
            _ = table.insert(entry(second, node: 3, identities[0]))
            #expect(table.duplicateDescriptor(of: NodeID(2), identity: identities[0]) == nil)
        }
    }

    @Test("duplicates taken while handles open and close are always of the right file")
    func concurrentReleases() throws {
        try withFiles(1) { scratch, identities in
            let table = HandleTable()
            let name = try BackingName(validating: "f0")
            let stop = Atomic(false)
            let wrong = Atomic(0)
            DispatchQueue.concurrentPerform(iterations: 3) { worker in
                if worker == 0 {
                    // Opens and releases handles as RELEASE does: out of
                    // the table first, closed after.
                    for _ in 0..<2000 {
                        guard let descriptor = try? scratch.root.open(name, .readOnly) else { continue }
                        let id = table.insert(entry(descriptor, node: 2, identities[0]))
                        if let removed = table.remove(id) { _ = Glibc.close(removed.rawDescriptor) }
                    }
                    stop.store(true, ordering: .releasing)
                } else {
                    while !stop.load(ordering: .acquiring) {
                        guard let copy = table.duplicateDescriptor(of: NodeID(2), identity: identities[0]) else { continue }
                        if (try? identity(of: copy)) != identities[0] { wrong.add(1, ordering: .relaxed) }
                        _ = Glibc.close(copy.rawValue)
                    }
                }
            }
            #expect(wrong.load(ordering: .relaxed) == 0)
            #expect(table.count == 0)
            #expect(table.duplicateDescriptor(of: NodeID(2), identity: identities[0]) == nil)
        }
    }
}
