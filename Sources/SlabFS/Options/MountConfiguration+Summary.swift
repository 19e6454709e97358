extension MountConfiguration {
    /// A human-readable account of the configuration, one setting per line,
    /// with units (for `slabfs` to show, and for the mount's debug log).
    public var summary: String {
        let loop = !usesOneThread ? "multi-threaded loop, at most \(threads) threads"
            : pollMicroseconds == 0 ? "one request thread, no polling"
            : "one request thread, polling up to \(pollMicroseconds) us after a reply"
        let mode = foreground ? "foreground" : "background (daemon)"
        let limit = kernelCacheLimit == 0 ? "unlimited" : "\(kernelCacheLimit) inodes"
        let psi = psiThresholdMicroseconds == 0
            ? "off"
            : "\(psiThresholdMicroseconds) us of 'some' stall per \(Self.psiWindowMicroseconds / 1_000_000) s window"
        let rows: [(String, String)] = [
            ("source", source),
            ("mountpoint", mountpoint),
            ("mode", "\(mode), \(loop)\(debug ? ", debug" : "")"),
            ("cache size", "\(ValueParser.describeBytes(cacheSizeBytes)) (\(cacheSizeBytes) bytes, \(cacheSizePages) slabs)"),
            ("page size", "\(pageSizeBytes) bytes"),
            ("eviction", eviction.rawValue),
            ("migrate", migrate ? "on" : "off"),
            ("kernel cache limit", limit),
            ("entry timeout", "\(entryTimeoutSeconds) s"),
            ("attr timeout", "\(attrTimeoutSeconds) s"),
            ("cache timeout", "\(cacheTimeoutSeconds) s"),
            ("negative dentries", "at most \(negativeDentryLimit)"),
            ("PSI threshold", psi),
            ("readdir cache", readdirCache ? "on (the kernel keeps listings)" : "off (every listing reaches slabfs)"),
            ("passthrough", passthrough.rawValue),
            ("coherence", coherence == .timeouts ? "timeouts"
                : "\(coherence.rawValue) (with events, timeouts and the kernel cache limit not given take their events defaults)"),
            ("allow_other", allowOther ? "yes" : "no"),
            ("read-only", readOnly ? "yes" : "no"),
            ("libfuse argv", fuseArguments.map(Self.shellQuoted).joined(separator: " ")),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { label, value in
            label + ":" + String(repeating: " ", count: width - label.count + 1) + value
        }.joined(separator: "\n")
    }

    /// Quotes a word for a shell only when it needs it, so the argv line can be pasted.
    static func shellQuoted(_ word: String) -> String {
        let plain = !word.isEmpty && word.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_=,./:+@%".contains($0)) }
        return plain ? word : "'" + word.replacing("'", with: "'\\''") + "'"
    }
}
