/// Parsers for setting values. Pure functions of the text, so the tests can
/// cover every rejection; each reason names the problem in a few words.
enum ValueParser {
    struct Rejection: Error, Equatable {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// A byte count: decimal digits with an optional binary suffix K, M or G
    /// (either case), e.g. `65536`, `64K`, `64M`, `1G`; more than zero, at most `maximum`.
    static func size(_ text: String, maximum: Int) -> Result<Int, Rejection> {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let suffix = text[digits.endIndex...]
        if text.isEmpty { return .failure(Rejection("empty")) }
        if text.hasPrefix("-") { return .failure(Rejection("must be more than zero")) }
        if digits.isEmpty { return .failure(Rejection("not a number; use bytes or a K, M or G suffix")) }
        if suffix.hasPrefix(".") { return .failure(Rejection("must be a whole number; use a smaller unit (1536M, not 1.5G)")) }
        let multiplier: Int
        switch suffix {
        case "": multiplier = 1
        case "K", "k": multiplier = 1 << 10
        case "M", "m": multiplier = 1 << 20
        case "G", "g": multiplier = 1 << 30
        default: return .failure(Rejection("unknown suffix '\(suffix)'; use K, M or G, or plain bytes"))
        }
        let tooLarge = Rejection("more than \(describeBytes(maximum)); this is surely a typo")
        guard let number = Int(digits) else { return .failure(tooLarge) }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        if overflow || bytes > maximum { return .failure(tooLarge) }
        if bytes == 0 { return .failure(Rejection("must be more than zero")) }
        return .success(bytes)
    }

    /// A slab size: a size (suffixes allowed) that is 4096 times a power of two, at most 1 MiB.
    static func pageSize(_ text: String) -> Result<Int, Rejection> {
        let rule = "must be 4096 times a power of two (4096, 8192, ... 1M)"
        return size(text, maximum: Int.max).flatMap { bytes in
            if bytes > MountConfiguration.maximumPageSizeBytes {
                return .failure(Rejection("more than 1 MiB, the largest slab"))
            }
            let isPowerOfTwo = bytes & (bytes - 1) == 0
            guard isPowerOfTwo, bytes >= MountConfiguration.minimumPageSizeBytes else { return .failure(Rejection(rule)) }
            return .success(bytes)
        }
    }

    /// A non-negative decimal integer, at most `maximum`.
    static func count(_ text: String, maximum: Int, unit: String = "") -> Result<Int, Rejection> {
        if text.isEmpty { return .failure(Rejection("empty")) }
        if text.hasPrefix("-") { return .failure(Rejection("must not be negative")) }
        guard text.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return .failure(Rejection("not a whole number"))
        }
        let limit = unit.isEmpty ? "\(maximum)" : "\(maximum) \(unit)"
        guard let number = Int(text), number <= maximum else { return .failure(Rejection("more than \(limit)")) }
        return .success(number)
    }

    /// A duration in seconds: a finite decimal number, zero or more (`1`, `0.5`, `2e1`).
    static func seconds(_ text: String) -> Result<Double, Rejection> {
        let rule = "must be a number of seconds, zero or more"
        // Double(_:) also reads "inf", "nan" and hex floats; only plain decimals are meant.
        let plain = !text.isEmpty && text.allSatisfy { "0123456789.eE+-".contains($0) }
        guard plain, let seconds = Double(text) else { return .failure(Rejection("not a number; \(rule)")) }
        guard seconds.isFinite else { return .failure(Rejection("too large; \(rule)")) }
        guard seconds >= 0 else { return .failure(Rejection("negative; \(rule)")) }
        return .success(seconds)
    }

    /// "64 MiB" for whole binary units, else "N bytes".
    static func describeBytes(_ bytes: Int) -> String {
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift) \(unit)"
        }
        return "\(bytes) bytes"
    }
}
