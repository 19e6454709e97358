import DCache
import Testing
@testable import SlabFS

/// Settings' values: sizes, choices, counts and timeouts, as -o and as long options.
@Suite struct OptionsValueTests {
    @Test("with no options, every setting has its documented default")
    func defaults() throws {
        let scratch = try OptionsScratch()
        let configuration = try parseMount(scratch.arguments())
        #expect(configuration.cacheSizeBytes == MountConfiguration.defaultCacheSize(memoryBytes: MemoryLimit.bytes()))
        #expect(configuration.eviction == .page)
        #expect(configuration.migrate)
        #expect(configuration.pageSizeBytes == 4096)
        #expect(configuration.kernelCacheLimit == 0)
        #expect(configuration.entryTimeoutSeconds == 1.0)
        #expect(configuration.attrTimeoutSeconds == 1.0)
        #expect(configuration.cacheTimeoutSeconds == 60.0)
        #expect(configuration.threads == 1 && configuration.usesOneThread)
        #expect(configuration.pollMicroseconds == 100)
        #expect(configuration.negativeDentryLimit == 65_536)
        #expect(configuration.psiThresholdMicroseconds == 150_000)
        #expect(configuration.readdirCache)
        #expect(!configuration.allowOther && !configuration.readOnly)
        #expect(configuration.daemonize && !configuration.debug && !configuration.singleThreaded)
        #expect(configuration.libfuseOptions.isEmpty)
    }

    static let sizeSpellings: [(String, Int)] = [
        ("64K", 65_536), ("64k", 65_536), ("64M", 67_108_864), ("3m", 3_145_728),
        ("1G", 1_073_741_824), ("2g", 2_147_483_648), ("1048576", 1_048_576), ("1024G", 1_099_511_627_776),
    ]

    @Test("the default cache size is a 64th of the memory the daemon may use, in whole MiB, at least 64 MiB")
    func defaultCacheSizeFollowsMemory() {
        #expect(MountConfiguration.defaultCacheSize(memoryBytes: 1 << 30) == 64 << 20)
        #expect(MountConfiguration.defaultCacheSize(memoryBytes: 8 << 30) == 128 << 20)
        #expect(MountConfiguration.defaultCacheSize(memoryBytes: 24 << 30) == 384 << 20)
        #expect(MountConfiguration.defaultCacheSize(memoryBytes: (24 << 30) + 12_345) == 384 << 20)
        #expect(MountConfiguration.defaultCacheSize(memoryBytes: (16 << 30) + (100 << 20)) == 257 << 20)
        #expect(MountConfiguration.defaultCacheSize(memoryBytes: 0) == 64 << 20)
    }

    @Test("cache_size accepts K, M and G suffixes, either case, and plain bytes", arguments: sizeSpellings)
    func cacheSizeSuffixes(text: String, bytes: Int) throws {
        let scratch = try OptionsScratch()
        #expect(try parseMount(scratch.arguments("cache_size=\(text)")).cacheSizeBytes == bytes)
        var long = scratch.arguments()
        long.cacheSize = text
        #expect(try parseMount(long).cacheSizeBytes == bytes)
    }

    static let badSizes: [(String, String)] = [
        ("0", "more than zero"), ("-1", "more than zero"), ("0K", "more than zero"),
        ("abc", "not a number"), ("", "empty"), ("12X", "unknown suffix 'X'"),
        ("64MB", "unknown suffix 'MB'"), ("64 M", "unknown suffix"), ("1.5G", "whole number"),
        ("1025G", "more than 1 TiB"), ("99999999999999999999", "more than 1 TiB"),
        ("9223372036854775807G", "more than 1 TiB"),
    ]

    @Test("a bad cache size is refused with a reason", arguments: badSizes)
    func badCacheSizes(text: String, reason: String) throws {
        try expectRefusal(ofOption: "cache_size=\(text)", .invalidValue, mentioning: "cache size", reason, "-o cache_size")
    }

    @Test("a bad --cache-size names the long option")
    func badLongCacheSize() throws {
        let scratch = try OptionsScratch()
        var arguments = scratch.arguments()
        arguments.cacheSize = "lots"
        let error = mountRefusal(arguments)
        #expect(error?.message == "invalid cache size 'lots' in --cache-size: not a number; use bytes or a K, M or G suffix")
    }

    static let pageSizeSpellings: [(String, Int)] = [("4096", 4096), ("8192", 8192), ("16K", 16384), ("65536", 65536), ("1M", 1_048_576)]

    @Test("page_size takes 4096 times a power of two up to 1 MiB", arguments: pageSizeSpellings)
    func goodPageSizes(text: String, bytes: Int) throws {
        let scratch = try OptionsScratch()
        #expect(try parseMount(scratch.arguments("page_size=\(text)")).pageSizeBytes == bytes)
    }

    @Test("page_size refuses sizes that are not 4096 times a power of two, or above 1 MiB",
          arguments: ["0", "2048", "6000", "12288", "4097", "2M", "-4096", "page"])
    func badPageSizes(text: String) throws {
        let scratch = try OptionsScratch()
        var arguments = scratch.arguments()
        arguments.pageSize = text
        expectRefusal(arguments, .invalidValue, mentioning: "invalid page size")
    }

    @Test("the cache must hold at least one slab for dentries and one for inodes")
    func cacheAtLeastTwoSlabs() throws {
        let scratch = try OptionsScratch()
        #expect(try parseMount(scratch.arguments("cache_size=2M,page_size=1M")).cacheSizePages == 2)
        expectRefusal(scratch.arguments("page_size=1M,cache_size=1M"), .conflictingValues, mentioning: "at least 2 MiB")
    }

    @Test("eviction is page or lru; migrate and readdir_cache are on or off")
    func choices() throws {
        let scratch = try OptionsScratch()
        let configuration = try parseMount(scratch.arguments("eviction=lru,migrate=off,readdir_cache=off"))
        #expect(configuration.eviction == .lru && !configuration.migrate && !configuration.readdirCache)
        var long = scratch.arguments("readdir_cache=off")
        long.eviction = "page"
        long.migrate = "on"
        long.readdirCache = "on"
        let fromFlags = try parseMount(long)
        #expect(fromFlags.eviction == .page && fromFlags.migrate && fromFlags.readdirCache)
        #expect(fromFlags.summary.contains("on (the kernel keeps listings)"))
    }

    @Test("a bad eviction, migrate or readdir_cache value is refused, naming the choices",
          arguments: [("eviction=fifo", "use page or lru"), ("eviction=LRU", "use page or lru"),
                      ("migrate=yes", "use on or off"), ("migrate=", "use on or off"),
                      ("readdir_cache=1", "use on or off"), ("readdir_cache=ON", "use on or off")])
    func badChoices(option: String, hint: String) throws {
        try expectRefusal(ofOption: option, .invalidValue, mentioning: hint)
    }

    @Test("threads is a whole number from 1 to 256; more than one uses the multi-threaded loop, unless -s")
    func threads() throws {
        let scratch = try OptionsScratch()
        let four = try parseMount(scratch.arguments("threads=4"))
        #expect(four.threads == 4 && !four.usesOneThread)
        var long = scratch.arguments("threads=4")
        long.singleThreaded = true
        #expect(try parseMount(long).usesOneThread)
        for text in ["0", "00", "-1", "257", "x", ""] {
            expectRefusal(scratch.arguments("threads=\(text)"), .invalidValue, mentioning: "thread count")
        }
    }

    @Test("poll_us is a whole number of microseconds from 0 (never poll) to 1000; the long flag wins over -o")
    func pollMicroseconds() throws {
        let scratch = try OptionsScratch()
        #expect(try parseMount(scratch.arguments("poll_us=0")).pollMicroseconds == 0)
        #expect(try parseMount(scratch.arguments("poll_us=1000")).pollMicroseconds == 1000)
        var long = scratch.arguments("poll_us=10")
        long.pollMicroseconds = "200"
        #expect(try parseMount(long).pollMicroseconds == 200)
        for text in ["-1", "1001", "50us", "1.5", "x", ""] {
            expectRefusal(scratch.arguments("poll_us=\(text)"), .invalidValue, mentioning: "poll time")
        }
    }

    @Test("timeouts are non-negative decimal seconds")
    func timeouts() throws {
        let scratch = try OptionsScratch()
        let configuration = try parseMount(scratch.arguments("entry_timeout=2,attr_timeout=0.25"))
        #expect(configuration.entryTimeoutSeconds == 2 && configuration.attrTimeoutSeconds == 0.25)
        var long = scratch.arguments()
        long.entryTimeout = "0"
        long.attrTimeout = "1e2"
        let fromFlags = try parseMount(long)
        #expect(fromFlags.entryTimeoutSeconds == 0 && fromFlags.attrTimeoutSeconds == 100)
    }

    @Test("a negative, NaN, infinite or non-numeric timeout is refused",
          arguments: ["-1", "-0.5", "nan", "NaN", "inf", "1e999", "0x10", "", "soon", "1s"])
    func badTimeouts(text: String) throws {
        let scratch = try OptionsScratch()
        for option in ["entry_timeout", "attr_timeout"] {
            expectRefusal(scratch.arguments("\(option)=\(text)"), .invalidValue, mentioning: "timeout")
        }
    }

    @Test("kernel_cache_limit, negative_limit and psi_threshold_us take whole numbers, 0 included")
    func counts() throws {
        let scratch = try OptionsScratch()
        let configuration = try parseMount(scratch.arguments("kernel_cache_limit=1000,negative_limit=0,psi_threshold_us=0"))
        #expect(configuration.kernelCacheLimit == 1000)
        #expect(configuration.negativeDentryLimit == 0)
        #expect(configuration.psiThresholdMicroseconds == 0)
        var long = scratch.arguments()
        long.kernelCacheLimit = "0"
        long.negativeLimit = "100"
        long.psiThresholdMicroseconds = "1000000"
        let fromFlags = try parseMount(long)
        #expect(fromFlags.negativeDentryLimit == 100 && fromFlags.psiThresholdMicroseconds == 1_000_000)
    }

    @Test("bad counts are refused",
          arguments: ["kernel_cache_limit=-1", "kernel_cache_limit=1k", "negative_limit=lots",
                      "negative_limit=99999999999", "psi_threshold_us=1000001", "psi_threshold_us=1.5"])
    func badCounts(option: String) throws {
        try expectRefusal(ofOption: option, .invalidValue)
    }

    @Test("a long option overrides -o, and among -o items the last wins")
    func precedence() throws {
        let scratch = try OptionsScratch()
        var arguments = scratch.arguments("cache_size=8M,eviction=lru", "cache_size=16M")
        #expect(try parseMount(arguments).cacheSizeBytes == 16 << 20)
        arguments.cacheSize = "32M"
        let configuration = try parseMount(arguments)
        #expect(configuration.cacheSizeBytes == 32 << 20)
        #expect(configuration.eviction == .lru)
    }

    @Test("-d implies foreground; -f alone keeps debugging off; -s selects the single-threaded loop")
    func loopFlags() throws {
        let scratch = try OptionsScratch()
        var arguments = scratch.arguments()
        arguments.debug = true
        let debugging = try parseMount(arguments)
        #expect(debugging.debug && debugging.foreground && !debugging.daemonize)
        arguments = scratch.arguments("debug")
        #expect(try parseMount(arguments).foreground)
        arguments = scratch.arguments()
        arguments.foreground = true
        arguments.singleThreaded = true
        let foreground = try parseMount(arguments)
        #expect(foreground.foreground && !foreground.debug && foreground.singleThreaded)
    }

    @Test("the value parsers' size descriptions use whole binary units")
    func describesBytes() {
        #expect(ValueParser.describeBytes(64 << 20) == "64 MiB")
        #expect(ValueParser.describeBytes(1 << 40) == "1 TiB")
        #expect(ValueParser.describeBytes(1536) == "1536 bytes")
        #expect(ValueParser.describeBytes(3 << 10) == "3 KiB")
    }
}
