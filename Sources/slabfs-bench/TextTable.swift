/// Columns padded to their widest cell: the first left-aligned, the rest
/// right-aligned (they hold numbers).
struct TextTable {
    var header: [String]
    var rows: [[String]] = []

    init(_ header: String...) { self.header = header }

    mutating func add(_ cells: String...) { rows.append(cells) }

    func render(indent: String = "  ") -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        return all.map { row in
            row.enumerated().map { i, cell in
                let fill = String(repeating: " ", count: widths[i] - cell.count)
                return i == 0 ? cell + fill : fill + cell
            }.joined(separator: "   ")
        }.map { line in
            // An empty last cell would leave trailing blanks.
            var text = indent + line
            while text.last == " " { text.removeLast() }
            return text
        }.joined(separator: "\n")
    }
}

func fixed(_ value: Double, _ digits: Int = 1) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    // String(Double) may print fewer decimals (1.5) or an exponent; pad the former.
    if let dot = text.firstIndex(of: "."), !text.contains("e") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
    }
    return text
}

func mebibytes(_ bytes: Int) -> String { fixed(Double(bytes) / 1_048_576) + " MiB" }
