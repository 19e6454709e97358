/// The slabfs-specific settings, each reachable as `--long-flag VALUE` and as
/// `-o key=VALUE` (so fstab and mount.fuse3 can set them too).
enum Setting: CaseIterable {
    case cacheSize, eviction, migrate, pageSize, kernelCacheLimit
    case entryTimeout, attrTimeout, cacheTimeout, negativeLimit, psiThreshold, threads, poll, readdirCache
    case coherence, passthrough

    /// The `-o` key.
    var optionKey: String {
        switch self {
        case .cacheSize: "cache_size"
        case .eviction: "eviction"
        case .migrate: "migrate"
        case .pageSize: "page_size"
        case .kernelCacheLimit: "kernel_cache_limit"
        case .entryTimeout: "entry_timeout"
        case .attrTimeout: "attr_timeout"
        case .cacheTimeout: "cache_timeout"
        case .negativeLimit: "negative_limit"
        case .psiThreshold: "psi_threshold_us"
        case .threads: "threads"
        case .poll: "poll_us"
        case .readdirCache: "readdir_cache"
        case .coherence: "coherence"
        case .passthrough: "passthrough"
        }
    }

    /// The long command-line flag.
    var longFlag: String {
        switch self {
        case .cacheSize: "--cache-size"
        case .eviction: "--eviction"
        case .migrate: "--migrate"
        case .pageSize: "--page-size"
        case .kernelCacheLimit: "--kernel-cache-limit"
        case .entryTimeout: "--entry-timeout"
        case .attrTimeout: "--attr-timeout"
        case .cacheTimeout: "--cache-timeout"
        case .negativeLimit: "--negative-limit"
        case .psiThreshold: "--psi-threshold-us"
        case .threads: "--threads"
        case .poll: "--poll-us"
        case .readdirCache: "--readdir-cache"
        case .coherence: "--coherence"
        case .passthrough: "--passthrough"
        }
    }

    /// What the value is, for error messages ("invalid cache size ...").
    var noun: String {
        switch self {
        case .cacheSize: "cache size"
        case .eviction: "eviction policy"
        case .migrate: "migrate setting"
        case .pageSize: "page size"
        case .kernelCacheLimit: "kernel cache limit"
        case .entryTimeout: "entry timeout"
        case .attrTimeout: "attr timeout"
        case .cacheTimeout: "cache timeout"
        case .negativeLimit: "negative dentry limit"
        case .psiThreshold: "PSI threshold"
        case .threads: "thread count"
        case .poll: "poll time"
        case .readdirCache: "readdir cache setting"
        case .coherence: "coherence mode"
        case .passthrough: "passthrough mode"
        }
    }

    /// The value's shape, for "needs a value (key=SHAPE)".
    var valueShape: String {
        switch self {
        case .cacheSize, .pageSize: "SIZE"
        case .eviction: "page|lru"
        case .migrate, .readdirCache: "on|off"
        case .kernelCacheLimit, .negativeLimit, .psiThreshold, .threads, .poll: "N"
        case .entryTimeout, .attrTimeout, .cacheTimeout: "SECONDS"
        case .coherence: "auto|events|timeouts"
        case .passthrough: "auto|on|off"
        }
    }

    private static func onOff(_ text: String) -> Bool? {
        switch text {
        case "on": true
        case "off": false
        default: nil
        }
    }

    init?(optionKey: String) {
        guard let setting = Self.allCases.first(where: { $0.optionKey == optionKey }) else { return nil }
        self = setting
    }

    /// Parses `text` into `configuration`, or returns why it cannot (a
    /// fragment the caller puts after "invalid <noun> '<text>' in <origin>: ").
    func apply(_ text: String, to configuration: inout MountConfiguration) -> String? {
        let rejection = parse(text, into: &configuration)
        if rejection == nil { configuration.explicitSettings.insert(self) }
        return rejection
    }

    private func parse(_ text: String, into configuration: inout MountConfiguration) -> String? {
        switch self {
        case .cacheSize:
            return ValueParser.size(text, maximum: MountConfiguration.maximumCacheSizeBytes).storing { configuration.cacheSizeBytes = $0 }
        case .pageSize:
            return ValueParser.pageSize(text).storing { configuration.pageSizeBytes = $0 }
        case .eviction:
            guard let policy = EvictionPolicy(rawValue: text) else { return "use page or lru" }
            configuration.eviction = policy
        case .migrate:
            guard let on = Self.onOff(text) else { return "use on or off" }
            configuration.migrate = on
        case .readdirCache:
            guard let on = Self.onOff(text) else { return "use on or off" }
            configuration.readdirCache = on
        case .kernelCacheLimit:
            return ValueParser.count(text, maximum: Int(UInt32.max)).storing { configuration.kernelCacheLimit = $0 }
        case .negativeLimit:
            return ValueParser.count(text, maximum: Int(UInt32.max)).storing { configuration.negativeDentryLimit = $0 }
        case .psiThreshold:
            return ValueParser.count(text, maximum: MountConfiguration.psiWindowMicroseconds, unit: "microseconds (the 1 s window)")
                .storing { configuration.psiThresholdMicroseconds = $0 }
        case .entryTimeout:
            return ValueParser.seconds(text).storing { configuration.entryTimeoutSeconds = $0 }
        case .attrTimeout:
            return ValueParser.seconds(text).storing { configuration.attrTimeoutSeconds = $0 }
        case .cacheTimeout:
            return ValueParser.seconds(text).storing { configuration.cacheTimeoutSeconds = $0 }
        case .threads:
            switch ValueParser.count(text, maximum: MountConfiguration.maximumThreads) {
            case .success(let count) where count >= 1: configuration.threads = count
            case .success: return "at least 1"
            case .failure(let rejection): return rejection.reason
            }
        case .poll:
            return ValueParser.count(text, maximum: MountConfiguration.maximumPollMicroseconds, unit: "microseconds")
                .storing { configuration.pollMicroseconds = $0 }
        case .coherence:
            guard let mode = CoherenceMode(rawValue: text) else { return "use auto, events or timeouts" }
            configuration.coherence = mode
        case .passthrough:
            guard let mode = PassthroughMode(rawValue: text) else { return "use auto, on or off" }
            configuration.passthrough = mode
        }
        return nil
    }
}

extension Result where Failure == ValueParser.Rejection {
    /// Stores a parsed value, or hands back the reason it was rejected.
    fileprivate func storing(_ store: (Success) -> Void) -> String? {
        switch self {
        case .success(let value): store(value); return nil
        case .failure(let rejection): return rejection.reason
        }
    }
}
