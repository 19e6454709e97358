import DCache
@testable import SlabFS
import Testing

/// The table of passthrough registrations kept between opens: what it keeps,
/// what it gives back, and that a full set displaces its oldest.
@Suite struct IdleRegistrationsTests {
    private func identity(_ inode: UInt64) -> BackingIdentity { BackingIdentity(device: 8, inode: inode) }

    @Test("a kept registration is taken back once, with the identity it was kept for")
    func takeOnce() {
        var table = IdleRegistrations(capacity: 64)
        #expect(table.take(NodeID(5)) == nil)
        #expect(table.put(NodeID(5), id: 17, identity: identity(500)) == nil)
        #expect(table.count == 1)
        let taken = table.take(NodeID(5))
        #expect(taken?.id == 17 && taken?.identity == identity(500))
        #expect(table.take(NodeID(5)) == nil && table.count == 0)
    }

    @Test("it never holds more than its capacity: a full set gives up its oldest, whose id comes back to be released")
    func displacesOldest() {
        var table = IdleRegistrations(capacity: 8)
        var displaced: [Int32] = []
        for node in 1...1000 {
            if let id = table.put(NodeID(UInt64(node)), id: Int32(node), identity: identity(UInt64(node))) {
                displaced.append(id)
            }
            #expect(table.count <= table.capacity)
        }
        #expect(table.count == table.capacity)
        #expect(displaced.count == 1000 - table.capacity)
        // Every id stored is either still held or was handed back, once.
        var held: [Int32] = []
        for node in 1...1000 { if let kept = table.take(NodeID(UInt64(node))) { held.append(kept.id) } }
        #expect(Set(held + displaced) == Set((1...1000).map { Int32($0) }))
        #expect(held.count + displaced.count == 1000)
        // The last one stored was never displaced.
        #expect(held.contains(1000))
    }
}
