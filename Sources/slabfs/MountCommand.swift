#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import SlabFS

/// `slabfs [mount] SOURCE MOUNTPOINT [options]`: collects the command line as
/// strings and leaves every check to `MountConfiguration.parse`, which the
/// SlabFS tests cover.
struct MountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount SOURCE (a directory) at MOUNTPOINT (the default command).",
        usage: "slabfs [mount] SOURCE MOUNTPOINT [-o OPTIONS] [-f] [-d] [-s] [--cache-size SIZE] ...",
        discussion: """
            Runs in the background unless -f or -d is given. Every setting can also be \
            given as -o key=value (comma-separated, -o may be repeated), so that \
            'mount -t fuse.slabfs SOURCE MOUNTPOINT -o cache_size=64M' and fstab lines \
            work through mount.fuse3:

              cache_size=SIZE  eviction=page|lru  migrate=on|off  page_size=BYTES
              kernel_cache_limit=N  entry_timeout=SECONDS  attr_timeout=SECONDS
              cache_timeout=SECONDS  threads=N  poll_us=N  readdir_cache=on|off
              negative_limit=N  psi_threshold_us=N  coherence=auto|events|timeouts
              passthrough=auto|on|off  allow_other  debug

            A long option overrides the same setting given with -o; among -o items \
            the last wins. SIZE is bytes or a number with K, M or G (powers of 1024).

            Generic options are accepted and passed to libfuse: ro, rw, suid, nosuid, \
            dev, nodev, exec, noexec, sync, async, dirsync, atime, noatime, relatime, \
            diratime, nodiratime, strictatime, lazytime (and their no- forms), \
            auto_unmount, fsname=NAME, subtype=TYPE, user=NAME, context options. \
            mount(8)'s own (defaults, auto, noauto, user, nouser, users, owner, group, \
            nofail, _netdev, x-*, comment=) are ignored. default_permissions is always \
            on. Any other option is an error.

            Example fstab line:
              /srv/data  /mnt/data  fuse.slabfs  cache_size=256M,allow_other  0  0
            """
    )

    @Argument(help: ArgumentHelp("The backing directory.", valueName: "source"))
    var source: String?

    @Argument(help: ArgumentHelp("The directory to mount on (or /dev/fd/N from mount.fuse3).", valueName: "mountpoint"))
    var mountpoint: String?

    @Option(name: .customShort("o", allowingJoined: true), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Mount options, comma-separated key[=value] (may be repeated).", valueName: "options"))
    var options: [String] = []

    @Flag(name: [.customShort("f"), .customLong("foreground")], help: "Stay in the foreground.")
    var foreground = false

    @Flag(name: [.customShort("d"), .customLong("debug")], help: "Log every FUSE request (implies -f). As -o debug.")
    var debug = false

    @Flag(name: [.customShort("s"), .customLong("single-thread")], help: "Serve requests on one thread (the default; as --threads 1).")
    var singleThreaded = false

    @Option(name: .customLong("threads"), parsing: .unconditional,
            help: ArgumentHelp("Request threads: 1 serves requests on one thread, more uses libfuse's multi-threaded loop (default 1). As -o threads=N.", valueName: "n"))
    var threads: String?

    @Option(name: .customLong("poll-us"), parsing: .unconditional,
            help: ArgumentHelp("With one request thread, poll for the next request up to this many microseconds after a reply before sleeping; 0 never polls (default 100). As -o poll_us=N.", valueName: "n"))
    var pollMicroseconds: String?

    @Option(name: .customLong("cache-size"), parsing: .unconditional,
            help: ArgumentHelp("Memory budget of the dentry and inode cache (default: a 64th of the memory the daemon may use, at least 64M). As -o cache_size=SIZE.", valueName: "size"))
    var cacheSize: String?

    @Option(name: .customLong("eviction"), parsing: .unconditional,
            help: ArgumentHelp("page: page-targeted reclaim (default); lru: object LRU, the baseline. As -o eviction=page|lru.", valueName: "page|lru"))
    var eviction: String?

    @Option(name: .customLong("migrate"), parsing: .unconditional,
            help: ArgumentHelp("Compact survivors of sparse slabs after reclaim (default on). As -o migrate=on|off.", valueName: "on|off"))
    var migrate: String?

    @Option(name: .customLong("page-size"), parsing: .unconditional,
            help: ArgumentHelp("Slab size in bytes: 4096 times a power of two, at most 1M (default 4096). As -o page_size=BYTES.", valueName: "bytes"))
    var pageSize: String?

    @Option(name: .customLong("kernel-cache-limit"), parsing: .unconditional,
            help: ArgumentHelp("Most inodes the kernel may hold for this mount; 0 = unlimited (default 0; with events, what half the cache size holds). As -o kernel_cache_limit=N.", valueName: "n"))
    var kernelCacheLimit: String?

    @Option(name: .customLong("entry-timeout"), parsing: .unconditional,
            help: ArgumentHelp("Seconds the kernel may cache a name lookup (default 1.0; 3600 with events). As -o entry_timeout=SECONDS.", valueName: "seconds"))
    var entryTimeout: String?

    @Option(name: .customLong("attr-timeout"), parsing: .unconditional,
            help: ArgumentHelp("Seconds the kernel may cache file attributes (default 1.0; 3600 with events). As -o attr_timeout=SECONDS.", valueName: "seconds"))
    var attrTimeout: String?

    @Option(name: .customLong("cache-timeout"), parsing: .unconditional,
            help: ArgumentHelp("Seconds our cache trusts what it holds before asking the backing directory again; changes through the mount are seen at once (default 60; 3600 with events). As -o cache_timeout=SECONDS.", valueName: "seconds"))
    var cacheTimeout: String?

    @Option(name: .customLong("negative-limit"), parsing: .unconditional,
            help: ArgumentHelp("Most negative dentries we cache; 0 = none (default 65536). As -o negative_limit=N.", valueName: "n"))
    var negativeLimit: String?

    @Option(name: .customLong("psi-threshold-us"), parsing: .unconditional,
            help: ArgumentHelp("Reclaim when memory stalls exceed N us per 1 s window; 0 = off (default 150000). As -o psi_threshold_us=N.", valueName: "n"))
    var psiThresholdMicroseconds: String?

    @Option(name: .customLong("readdir-cache"), parsing: .unconditional,
            help: ArgumentHelp("Let the kernel keep directory listings: later listings are faster, the first slower (default on). As -o readdir_cache=on|off.", valueName: "on|off"))
    var readdirCache: String?

    @Option(name: .customLong("coherence"), parsing: .unconditional,
            help: ArgumentHelp("How changes made in the backing directory behind the mount are seen: events (fanotify; then every timeout defaults to 3600 s), timeouts, or auto: events where the kernel, the filesystem and privileges allow (default auto). As -o coherence=auto|events|timeouts.", valueName: "auto|events|timeouts"))
    var coherence: String?

    @Option(name: .customLong("passthrough"), parsing: .unconditional,
            help: ArgumentHelp("Let the kernel read and write regular files' backing files itself (FUSE passthrough, Linux 6.9, root): on refuses to mount where it cannot, auto falls back to serving them through slabfs (default auto). As -o passthrough=auto|on|off.", valueName: "auto|on|off"))
    var passthrough: String?

    @Flag(name: .customLong("allow-other"), help: "Let other users use the mount; each request runs with its caller's uid, gid and groups. As -o allow_other.")
    var allowOther = false

    @Flag(name: .customLong("dry-run"), help: "Check the command line, print the configuration and exit without mounting.")
    var dryRun = false

    /// The command line as `MountConfiguration.parse` takes it.
    var arguments: MountArguments {
        var arguments = MountArguments(source: source, mountpoint: mountpoint, mountOptions: options)
        arguments.foreground = foreground
        arguments.debug = debug
        arguments.singleThreaded = singleThreaded
        arguments.allowOther = allowOther
        arguments.cacheSize = cacheSize
        arguments.eviction = eviction
        arguments.migrate = migrate
        arguments.pageSize = pageSize
        arguments.kernelCacheLimit = kernelCacheLimit
        arguments.entryTimeout = entryTimeout
        arguments.attrTimeout = attrTimeout
        arguments.cacheTimeout = cacheTimeout
        arguments.threads = threads
        arguments.pollMicroseconds = pollMicroseconds
        arguments.negativeLimit = negativeLimit
        arguments.psiThresholdMicroseconds = psiThresholdMicroseconds
        arguments.readdirCache = readdirCache
        arguments.coherence = coherence
        arguments.passthrough = passthrough
        return arguments
    }

    func run() throws {
        let configuration = try MountConfiguration.parse(arguments)
        if dryRun {
            print("slabfs would mount with:")
            print(configuration.summary)
            return
        }
        if configuration.debug {
            printError("mounting with:\n" + configuration.summary)
        }
        let status: Int32
        do {
            status = try Session.run(configuration)
        } catch {
            printError(error.message)
            Glibc.exit(1)
        }
        if status != 0 { Glibc.exit(status) }
    }
}
