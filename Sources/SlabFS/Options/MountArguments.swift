/// The mount command line as typed, before any checking: what the CLI's
/// argument parser collected, as strings, so that `MountConfiguration.parse`
/// can judge every value and name it in its error. Tests build these directly.
public struct MountArguments: Sendable, Equatable {
    /// First positional argument (the backing directory); nil if absent.
    public var source: String?
    /// Second positional argument; nil if absent.
    public var mountpoint: String?
    /// Each `-o` value in order, each a comma-separated list (`-o a,b -o c`).
    public var mountOptions: [String]

    /// `-f`
    public var foreground = false
    /// `-d`
    public var debug = false
    /// `-s`
    public var singleThreaded = false
    /// `--allow-other`
    public var allowOther = false

    // Long options, as typed. They override the same setting given with -o,
    // whatever the order: -o usually comes from fstab, a flag from a person.

    /// `--cache-size SIZE`
    public var cacheSize: String?
    /// `--eviction page|lru`
    public var eviction: String?
    /// `--migrate on|off`
    public var migrate: String?
    /// `--page-size BYTES`
    public var pageSize: String?
    /// `--kernel-cache-limit N`
    public var kernelCacheLimit: String?
    /// `--entry-timeout SECONDS`
    public var entryTimeout: String?
    /// `--attr-timeout SECONDS`
    public var attrTimeout: String?
    /// `--cache-timeout SECONDS`
    public var cacheTimeout: String?
    /// `--threads N`
    public var threads: String?
    /// `--poll-us N`
    public var pollMicroseconds: String?
    /// `--negative-limit N`
    public var negativeLimit: String?
    /// `--psi-threshold-us N`
    public var psiThresholdMicroseconds: String?
    /// `--readdir-cache on|off`
    public var readdirCache: String?
    /// `--coherence auto|events|timeouts`
    public var coherence: String?
    /// `--passthrough auto|on|off`
    public var passthrough: String?

    public init(source: String? = nil, mountpoint: String? = nil, mountOptions: [String] = []) {
        self.source = source
        self.mountpoint = mountpoint
        self.mountOptions = mountOptions
    }

    /// The long options that were given, with their setting.
    var longOptions: [(Setting, String)] {
        let all: [(Setting, String?)] = [
            (.cacheSize, cacheSize), (.eviction, eviction), (.migrate, migrate),
            (.pageSize, pageSize), (.kernelCacheLimit, kernelCacheLimit),
            (.entryTimeout, entryTimeout), (.attrTimeout, attrTimeout), (.cacheTimeout, cacheTimeout),
            (.negativeLimit, negativeLimit), (.psiThreshold, psiThresholdMicroseconds), (.threads, threads),
            (.poll, pollMicroseconds), (.readdirCache, readdirCache), (.coherence, coherence),
            (.passthrough, passthrough),
        ]
        return all.compactMap { setting, value in value.map { (setting, $0) } }
    }
}

extension MountArguments {
    /// Rewrites libfuse's joined `-oOPTIONS` into `-o OPTIONS`. The CLI's
    /// parser would take `-ocache_size=64M` apart at the `=`; libfuse-style
    /// scripts and helpers write it joined. Words after `--`, and the value
    /// after an option that takes one, are left alone.
    public static func separatingJoinedOptions(_ words: [String]) -> [String] {
        let takesValue = Set(["-o"] + Setting.allCases.map(\.longFlag))
        var result: [String] = []
        var index = words.startIndex
        while index < words.endIndex {
            let word = words[index]
            index += 1
            if word == "--" {
                result += words[(index - 1)...]
                break
            }
            if takesValue.contains(word), index < words.endIndex {
                result += [word, words[index]]
                index += 1
            } else if word.hasPrefix("-o"), word.count > 2, !word.hasPrefix("-o=") {
                result += ["-o", String(word.dropFirst(2))]
            } else {
                result.append(word)
            }
        }
        return result
    }
}
