import DCache

/// Everything a slabfs mount is started with: the two paths, how the FUSE loop
/// runs, the cache's tuning, and the options handed on to libfuse.
///
/// Build one with `MountConfiguration.parse(_:probe:)` from command-line
/// arguments (that also checks the paths and /dev/fuse), or with
/// `init(source:mountpoint:)` and the defaults below (tests, benchmarks).
public struct MountConfiguration: Sendable, Equatable {
    // MARK: Paths

    /// The backing directory: absolute and symlink-free after parsing, so it
    /// stays valid after the daemon changes directory to `/`.
    public var source: String

    /// Where the filesystem is mounted: an absolute, symlink-free directory,
    /// or `/dev/fd/N` when mount.fuse3 (`drop_privileges`) has already opened
    /// /dev/fuse and mounted it. Pass it to `fuse_session_mount`, which
    /// understands both forms.
    public var mountpoint: String

    // MARK: The FUSE loop

    /// Stay in the foreground instead of daemonizing (`-f`; also implied by `-d`).
    public var foreground: Bool

    /// Log every FUSE request (`-d`, `-o debug`); forwarded to libfuse as `-d`.
    public var debug: Bool

    /// `-s` was given (parsing then sets `threads` to 1).
    public var singleThreaded: Bool

    /// Request threads (`--threads`, `-o threads`). 1, the default, serves
    /// every request on one thread (`fuse_session_loop`); more uses
    /// libfuse's multi-threaded loop with at most that many workers. One is
    /// the default because it was the fastest here: the multi-threaded loop
    /// wakes its idle workers in turn (the kernel's queue is first in, first
    /// out), so each request lands on a cold thread; on 2 cores that cost
    /// 1.5-2 times the daemon CPU per request of one thread (mount-tests/bench
    /// and the README's Benchmarks). Parallel workloads on slow disks want more.
    public var threads: Int
    public var usesOneThread: Bool { threads == 1 }

    /// How long the one request thread may poll for the next request after
    /// a reply before it sleeps, in microseconds (`--poll-us`, `-o poll_us`;
    /// 0 never polls; the multi-threaded loop never does). The time it polls
    /// adapts between 0 and this bound, as the kernel's haltpoll governor
    /// does (`RequestLoop`). Polling is the default because waking a
    /// sleeping thread on another core costs more than the daemon's whole
    /// work for a cached lookup: a cold stat took 25-28 us with a sleeping
    /// daemon and 14-16 us with a polling one (README, Benchmarks).
    public var pollMicroseconds: Int

    // MARK: The dentry and inode cache

    /// Memory budget of our dentry and inode caches, in bytes (`--cache-size`,
    /// `-o cache_size`). Reclaim runs when the slabs exceed it.
    public var cacheSizeBytes: Int

    /// How memory is taken back when the cache is over budget (`--eviction`).
    public var eviction: EvictionPolicy

    /// After page-targeted reclaim, move survivors of sparse slabs into dense
    /// ones so that whole pages come free (`--migrate on|off`).
    public var migrate: Bool

    /// Size of one slab, in bytes: 4096 times a power of two, at most 1 MiB
    /// (`--page-size`).
    public var pageSizeBytes: Int

    /// Most inodes the kernel may hold (by lookup count) for this mount;
    /// beyond it we ask the kernel to drop dentries. 0 means no limit
    /// (`--kernel-cache-limit`).
    public var kernelCacheLimit: Int

    /// Seconds the kernel may trust a name lookup before asking again
    /// (`entry_timeout` in `fuse_entry_param`; `--entry-timeout`).
    public var entryTimeoutSeconds: Double

    /// Seconds the kernel may trust file attributes before asking again
    /// (`attr_timeout`; `--attr-timeout`).
    public var attrTimeoutSeconds: Double

    /// Seconds our own cache trusts a name or attributes it holds before it
    /// asks the backing directory again (`--cache-timeout`). Longer than the
    /// kernel's timeouts, so that the kernel's revalidations and its lookups
    /// after dropping its caches are answered without a system call. Changes
    /// made through the mount update the cache at once; this bounds how long
    /// a change made directly in the backing directory stays unseen (NFS's
    /// attribute cache bound, acregmax, is 60 s too).
    public var cacheTimeoutSeconds: Double

    /// Most negative dentries ("this name does not exist") kept in our cache;
    /// 0 keeps none (`--negative-limit`).
    public var negativeDentryLimit: Int

    /// Memory-pressure trigger: react when tasks stall on memory ("some" in
    /// /proc/pressure/memory) for more than this many microseconds in a
    /// window of `psiWindowMicroseconds`. 0 disables the trigger
    /// (`--psi-threshold-us`).
    public var psiThresholdMicroseconds: Int

    /// Let the kernel keep each directory's listing in its page cache
    /// (`cache_readdir` in the OPENDIR reply; `--readdir-cache on|off`).
    /// On, the default: a second listing is answered by the kernel alone
    /// (2.5 times faster here), but the first pays the kernel's copy of
    /// every entry into that cache (about 0.3 us an entry, 20-25 percent of
    /// a first listing of 190 entries; README, Benchmarks). Off suits trees
    /// listed once (a backup, a search).
    public var readdirCache: Bool

    /// How the cache learns of changes made behind it, in the backing
    /// directory (`--coherence auto|events|timeouts`): from the backing
    /// filesystem's fanotify events, with long timeouts (`events`), or by
    /// timeouts alone, short for the kernel and `cacheTimeoutSeconds` for our
    /// cache (`timeouts`); `auto` uses events where the kernel, the backing
    /// filesystem and our privileges allow.
    public var coherence: CoherenceMode

    /// Whether the kernel does regular files' reads and writes on the
    /// backing file itself (FUSE passthrough, Linux 6.9, CAP_SYS_ADMIN):
    /// `on` refuses to mount where it cannot, `auto` falls back to serving
    /// them through the daemon (`--passthrough auto|on|off`).
    public var passthrough: PassthroughMode

    /// The settings given on the command line or in `-o`: the others take
    /// the defaults of the coherence mode in force (`timeoutDefaults`).
    var explicitSettings: Set<Setting> = []

    // MARK: Mount options for the kernel and libfuse

    /// Let users other than the mounting one in (`allow_other`). Requests then
    /// run with the caller's fsuid/fsgid (DESIGN.md, Passthrough).
    public var allowOther: Bool

    /// Mounted read-only (`-o ro`; the last of `ro`/`rw` wins).
    public var readOnly: Bool

    /// First field of /proc/mounts (`fsname=`); the source path unless given.
    public var fileSystemName: String

    /// Shown as `fuse.SUBTYPE` in /proc/mounts (`subtype=`); "slabfs" unless given.
    public var subtype: String

    /// Generic mount options passed through to libfuse as given, in order
    /// (ro/rw, nosuid, noatime, auto_unmount, ...). Options this type models
    /// (default_permissions, allow_other, fsname, subtype, debug) are not
    /// repeated here; `fuseArguments` adds them.
    public var libfuseOptions: [String]

    // MARK: Defaults

    /// Default cache budget: a 64th of the memory the daemon may use
    /// (`MemoryLimit`: the machine's, or its memory cgroup's limit), at
    /// least 64 MiB. A budget is a ceiling, not an allocation: pages are
    /// taken as entries come and given back under pressure, as the kernel's
    /// own dentry and inode caches, which no size bounds, do. A fixed 64 MiB
    /// held about 400,000 files, and a tree of a million was looked up again
    /// by name on every pass (README, the large round); a 64th of 24 GiB,
    /// 384 MiB, holds about 2.7 million at 144 B a file.
    public static let defaultCacheSizeBytes = defaultCacheSize(memoryBytes: MemoryLimit.bytes())
    /// The smallest default budget, on small machines and in tight cgroups.
    public static let minimumDefaultCacheSizeBytes = 64 << 20

    /// The default budget for a daemon that may use `memoryBytes`: a 64th
    /// of it in whole MiB, at least `minimumDefaultCacheSizeBytes`.
    public static func defaultCacheSize(memoryBytes: Int) -> Int {
        max(minimumDefaultCacheSizeBytes, (memoryBytes / 64) / (1 << 20) * (1 << 20))
    }
    /// The default slab size: one 4 KiB page, like the kernel's small slabs.
    public static let defaultPageSizeBytes = 4096
    /// The smallest slab: one base page.
    public static let minimumPageSizeBytes = 4096
    /// The largest slab: bigger slabs would make a single page's reclaim too coarse.
    public static let maximumPageSizeBytes = 1 << 20
    /// An upper bound that catches typos (a budget above 1 TiB is not meant).
    public static let maximumCacheSizeBytes = 1 << 40
    /// With events, the kernel's entry and attr timeouts and our cache
    /// timeout: an hour. Events, not timeouts, keep the caches fresh then;
    /// a timeout only bounds what events cannot report (a write through
    /// another program's shared mmap until it closes the file), as NFS's
    /// longest attribute cache bound does (acdirmax, 60 s, is for servers
    /// that say nothing).
    public static let eventTimeoutSeconds = 3600.0
    /// libfuse's default for both timeouts.
    public static let defaultTimeoutSeconds = 1.0
    public static let defaultCacheTimeoutSeconds = 60.0
    public static let maximumThreads = 256
    /// Enough negative entries for a build's failed header and library
    /// searches, small enough (a few MiB) not to crowd out positive entries.
    public static let defaultNegativeDentryLimit = 65_536
    /// A sequential client's gap between a reply and its next request took
    /// 10-20 us here. The bound is also where the window stops growing and
    /// starts shrinking (`PollWindow`), and an idle period measured after a
    /// sleep includes the wake-up (20-30 us): 50 us let a window that had
    /// shrunk to 0 stay there while requests came every 15 us.
    public static let defaultPollMicroseconds = 100
    /// A millisecond: beyond it polling only burns CPU.
    public static let maximumPollMicroseconds = 1_000
    /// 150 ms of stall per second: sustained pressure, not a blip.
    public static let defaultPSIThresholdMicroseconds = 150_000
    /// The PSI trigger's window; a threshold may not exceed it (kernel rule).
    public static let psiWindowMicroseconds = 1_000_000
    /// The subtype shown in /proc/mounts.
    public static let defaultSubtype = "slabfs"
    /// argv[0] handed to libfuse.
    public static let programName = "slabfs"

    /// A configuration with every default, for the given paths taken as they
    /// are (no checks; `parse` is the checked way in).
    public init(source: String, mountpoint: String) {
        self.source = source
        self.mountpoint = mountpoint
        foreground = false
        debug = false
        singleThreaded = false
        threads = 1
        pollMicroseconds = Self.defaultPollMicroseconds
        cacheSizeBytes = Self.defaultCacheSizeBytes
        eviction = .page
        migrate = true
        pageSizeBytes = Self.defaultPageSizeBytes
        kernelCacheLimit = 0
        entryTimeoutSeconds = Self.defaultTimeoutSeconds
        attrTimeoutSeconds = Self.defaultTimeoutSeconds
        cacheTimeoutSeconds = Self.defaultCacheTimeoutSeconds
        negativeDentryLimit = Self.defaultNegativeDentryLimit
        psiThresholdMicroseconds = Self.defaultPSIThresholdMicroseconds
        readdirCache = true
        coherence = .auto
        passthrough = .auto
        allowOther = false
        readOnly = false
        fileSystemName = source
        subtype = Self.defaultSubtype
        libfuseOptions = []
    }

    /// With events in force, the settings not given take their events
    /// defaults: an hour for every timeout (`eventTimeoutSeconds`), and a
    /// kernel cache limit (`eventKernelCacheLimit`).
    public func applyingCoherenceDefaults(eventsActive: Bool) -> MountConfiguration {
        guard eventsActive else { return self }
        var configuration = self
        if !explicitSettings.contains(.entryTimeout) { configuration.entryTimeoutSeconds = Self.eventTimeoutSeconds }
        if !explicitSettings.contains(.attrTimeout) { configuration.attrTimeoutSeconds = Self.eventTimeoutSeconds }
        if !explicitSettings.contains(.cacheTimeout) { configuration.cacheTimeoutSeconds = Self.eventTimeoutSeconds }
        if !explicitSettings.contains(.kernelCacheLimit) {
            configuration.kernelCacheLimit = Self.eventKernelCacheLimit(cacheSizeBytes: cacheSizeBytes)
        }
        return configuration
    }

    /// The kernel keeps every inode it looked up until memory pressure makes
    /// it let go, whatever the timeouts, and each pins one of our inodes and
    /// its dentry (144 bytes of slab). Held inodes may fill at most half the
    /// cache budget, so that reclaim can always meet the budget from the
    /// other half: 233,016 for 64 MiB, 1,398,101 for 384 MiB (the default
    /// with 24 GiB; about 3.4 GB of the kernel's own memory at 2.4 KB each,
    /// which its shrinkers reclaim, as they do a native tree's).
    public static func eventKernelCacheLimit(cacheSizeBytes: Int) -> Int {
        max(1024, cacheSizeBytes / 2 / 144)
    }

    /// The budget in whole slabs.
    public var cacheSizePages: Int { cacheSizeBytes / pageSizeBytes }

    /// Run as a daemon (libfuse's `fuse_daemonize`): the default, unless `-f` or `-d`.
    public var daemonize: Bool { !foreground }

    /// The `-o` options for libfuse, one string per option, unescaped.
    /// `default_permissions` is always first: the kernel checks mode bits
    /// and ownership, which our passthrough relies on (security requirement).
    public var libfuseMountOptions: [String] {
        var options = ["default_permissions", "fsname=\(fileSystemName)", "subtype=\(subtype)"]
        if allowOther { options.append("allow_other") }
        options += libfuseOptions
        return options
    }

    /// The argv for `fuse_session_new` (or `fuse_parse_cmdline` first):
    /// program name, one `-o` with the comma-joined options, and `-d` when
    /// debugging. The mountpoint is not in it: pass `mountpoint` to
    /// `fuse_session_mount`. `-f` and `-s` are not in it either, because
    /// `fuse_session_new` rejects them; use `foreground` and `singleThreaded`.
    public var fuseArguments: [String] {
        var arguments = [Self.programName, "-o", libfuseMountOptions.map(Self.escapedForLibfuse).joined(separator: ",")]
        if debug { arguments.append("-d") }
        return arguments
    }

    /// libfuse splits `-o` values at commas and takes a backslash as an
    /// escape, so both must be escaped inside a value (an fsname with a comma).
    static func escapedForLibfuse(_ option: String) -> String {
        var escaped = ""
        for character in option {
            if character == "\\" || character == "," { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

/// `--passthrough`: see `MountConfiguration.passthrough`.
public enum PassthroughMode: String, Sendable, CaseIterable {
    case auto, on, off
}

/// `--coherence`: see `MountConfiguration.coherence`.
public enum CoherenceMode: String, Sendable, CaseIterable {
    case auto, events, timeouts
}

/// How the cache gives memory back (DESIGN.md, Policies).
public enum EvictionPolicy: String, Sendable, CaseIterable {
    /// Page-targeted reclaim: free whole slabs, chosen page by page.
    case page
    /// The baseline: evict unused objects from the cold end of an LRU list.
    case lru
}
