import DCache
@testable import SlabFS
import Testing

/// The bounded table of where directories were seen: what it was told, at
/// most `capacity` places, and nothing of a directory it was told to forget.
@Suite("DirectoryPlaces")
struct DirectoryPlacesTests {
    private func name(_ text: String) throws -> BackingName { try BackingName(validating: text) }

    @Test("a noted place is found until it is forgotten or noted anew")
    func noteAndForget() throws {
        let places = DirectoryPlaces()
        #expect(places.place(of: NodeID(5)) == nil)
        places.note(NodeID(5), parent: NodeID(1), name: try name("a"))
        #expect(places.place(of: NodeID(5))?.parent == NodeID(1))
        #expect(places.place(of: NodeID(5))?.name == (try name("a")))
        places.note(NodeID(5), parent: NodeID(7), name: try name("moved"))
        #expect(places.place(of: NodeID(5))?.parent == NodeID(7))
        #expect(places.place(of: NodeID(5))?.name == (try name("moved")))
        #expect(places.count == 1)
        places.forget(NodeID(5))
        #expect(places.place(of: NodeID(5)) == nil)
        #expect(places.count == 0)
    }

    @Test("a full table makes room for a new place and keeps the one it renews")
    func bounded() throws {
        let places = DirectoryPlaces(capacity: 8)
        for node in 2..<40 { places.note(NodeID(UInt64(node)), parent: NodeID(1), name: try name("d\(node)")) }
        #expect(places.count == 8)
        #expect(places.place(of: NodeID(39))?.name == (try name("d39")))
        // Renewing a place already held pushes nothing out.
        places.note(NodeID(39), parent: NodeID(2), name: try name("d39"))
        #expect(places.count == 8)
        #expect(places.place(of: NodeID(39))?.parent == NodeID(2))
    }
}
