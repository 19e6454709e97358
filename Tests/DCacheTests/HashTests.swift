@testable import DCache
import Testing

@Suite("The dentry hash")
struct DentryHashTests {
    /// The hash of (parent, name), through the table's own function.
    func hash(_ parent: UInt64, _ name: String) -> UInt32 {
        Array(name.utf8).withUnsafeBytes { DentryObject.hash(parent: NodeID(parent), name: $0) }
    }

    @Test("names that differ only in their last characters spread over the stripes and home slots")
    func lastCharactersSpread() {
        // The top 5 bits pick the stripe, the next ones the home slot. FNV-1a
        // alone put these 190 names in 2 stripes and 4 top-10-bit values.
        let hashes = (0..<190).map { hash(2, "f" + String("00\($0)".suffix(3))) }
        #expect(Set(hashes.map(StripedTable.stripeIndex)).count >= 28)
        #expect(Set(hashes.map { $0 >> 22 }).count >= 150)
    }

    @Test("the same name under different parents spreads over the stripes")
    func parentsSpread() {
        let hashes = (2..<192).map { hash(UInt64($0), "file") }
        #expect(Set(hashes.map(StripedTable.stripeIndex)).count >= 28)
    }
}
