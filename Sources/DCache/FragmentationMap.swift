import Slab

/// One cache's slabs as a row of cells, each a fill level: `slabfs top`
/// draws it so a person can watch reclaim empty slabs and compaction pack
/// them. Consecutive slabs share a cell when there are more slabs than cells.
public struct FragmentationMap: Codable, Equatable, Sendable {
    public var cache: String
    public var objectsPerSlab: Int
    /// Slabs each cell stands for.
    public var slabsPerCell: Int
    /// One character per cell: " " no page (given back or never used),
    /// "0" an empty slab kept back, "1"..."9" fill in ninths (9 is full).
    public var cells: String

    public init(cache: String, objectsPerSlab: Int, fills: [Int?], maximumCells: Int) {
        self.cache = cache
        self.objectsPerSlab = objectsPerSlab
        slabsPerCell = max(1, (fills.count + maximumCells - 1) / max(1, maximumCells))
        var text = ""
        var start = 0
        while start < fills.count {
            let group = fills[start..<min(fills.count, start + slabsPerCell)].compactMap { $0 }
            if group.isEmpty {
                text += " "
            } else {
                let fill = Double(group.reduce(0, +)) / Double(group.count * max(1, objectsPerSlab))
                let level = fill == 0 ? 0 : max(1, min(9, Int((fill * 9).rounded(.up))))
                text += String(level)
            }
            start += slabsPerCell
        }
        cells = text
    }
}

extension DirectoryCache {
    /// The dentry and inode caches' maps, at most `maximumCells` cells each.
    public func fragmentationMaps(maximumCells: Int = 4096) -> [FragmentationMap] {
        [dentries, inodes].map { cache in
            FragmentationMap(cache: cache.configuration.name, objectsPerSlab: cache.configuration.objectsPerSlab,
                             fills: cache.slabFills(), maximumCells: maximumCells)
        }
    }
}
