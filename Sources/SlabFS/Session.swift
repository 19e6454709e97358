import CFuse
import DCache
import Glibc
import Slab
import SystemPackage

/// Why a mount could not start, in one line.
public struct MountFailure: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A FUSE session over a backing directory, from mount to unmount.
///
/// Order, as passthrough_hp has it: open the backing directory, create the
/// session, install the signal handlers, mount, daemonize (unless in the
/// foreground), and only then build the cache and start threads, since
/// fork keeps only the calling thread. Failures up to the mount are thrown
/// and reported by the command in one line. Shutdown: the loop returns
/// (unmounted, or SIGINT/SIGTERM/SIGHUP made it exit); the kernelDrops stops
/// (it calls into the session); then unmount, remove the signal handlers,
/// destroy the session.
public enum Session {
    /// Mounts and serves until unmounted; returns the exit status.
    public static func run(_ requested: MountConfiguration) throws(MountFailure) -> Int32 {
        var configuration = requested
        // Modes arrive with the caller's umask applied by the kernel; ours
        // must not apply a second one.
        umask(0)
        // One malloc arena: each thread's own (glibc's default) costs 100 KB
        // or more of RSS once it has served requests; glibc's per-thread
        // cache keeps most small allocations off the shared arena's lock.
        ProcessMemory.limitMallocArenas(1)
        LibfuseLog.shared.install()
        LibfuseLog.shared.forwardAll(configuration.debug)
        let backing: BackingDirectory
        do {
            backing = try BackingDirectory(path: FilePath(configuration.source))
        } catch {
            throw MountFailure(message: "cannot open source '\(configuration.source)': \(error)")
        }
        do {
            // The same settings, without PSI so that no thread starts:
            // refuse a bad configuration while the terminal still listens.
            var check = FileSystem.cacheConfiguration(configuration)
            check.psiThresholdMicroseconds = 0
            _ = try DirectoryCache(check)
        } catch {
            backing.close()
            throw MountFailure(message: "cannot set up the cache: \(error)")
        }
        // What may refuse to mount first, so that a refusal is the one line.
        let passthroughRefusal: String?
        let coherence: (watch: BackingWatch?, reason: String?)
        do {
            passthroughRefusal = try probePassthrough(configuration)
            coherence = try openWatch(configuration, backing)
        } catch {
            backing.close()
            throw error
        }
        configuration = configuration.applyingCoherenceDefaults(eventsActive: coherence.watch != nil)
        // Until the filesystem owns it (its watcher closes it at unmount).
        var watchToClose = coherence.watch
        defer { watchToClose?.close() }
        let arguments = LibfuseArguments(configuration.fuseArguments)
        defer { arguments.free() }
        let context = SessionContext()
        let userdata = Unmanaged.passRetained(context)
        defer { userdata.release() }
        var ops = makeOperations()
        guard let session = fuse_session_new(arguments.pointer, &ops, MemoryLayout<fuse_lowlevel_ops>.size,
                                             userdata.toOpaque()) else {
            backing.close()
            throw MountFailure(message: "cannot create the FUSE session: \(libfuseReason("invalid options"))")
        }
        // A parent may have started us with these blocked (Foundation's
        // Process passes its thread's mask on): they must reach the loop.
        var exitSignals = sigset_t()
        sigemptyset(&exitSignals)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&exitSignals, signal) }
        pthread_sigmask(SIG_UNBLOCK, &exitSignals, nil)
        guard fuse_set_signal_handlers(session) == 0 else {
            fuse_session_destroy(session)
            backing.close()
            throw MountFailure(message: "cannot install signal handlers")
        }
        guard fuse_session_mount(session, configuration.mountpoint) == 0 else {
            fuse_remove_signal_handlers(session)
            fuse_session_destroy(session)
            backing.close()
            throw MountFailure(message: "cannot mount on '\(configuration.mountpoint)': \(libfuseReason("mount failed"))")
        }
        if passthroughRefusal == nil && !InitNegotiation.install(on: session) {
            logError("passthrough: off: cannot hook libfuse's INIT reply")
        }
        if configuration.daemonize { fuse_daemonize(0) }
        watchToClose = nil
        let status = serve(session, context: context, configuration: configuration, backing: backing,
                           coherence: coherence, passthroughRefusal: passthroughRefusal)
        fuse_session_unmount(session)
        fuse_remove_signal_handlers(session)
        fuse_session_destroy(session)
        backing.close()
        return status
    }

    /// Builds the filesystem and runs the loop until it ends.
    private static func serve(_ session: OpaquePointer, context: SessionContext,
                              configuration: MountConfiguration, backing: BackingDirectory,
                              coherence: (watch: BackingWatch?, reason: String?),
                              passthroughRefusal: String?) -> Int32 {
        let fileSystem: FileSystem
        do {
            fileSystem = try withSignalsBlocked {
                try FileSystem(configuration: configuration, backing: backing, watch: coherence.watch,
                               coherenceReason: coherence.reason, passthroughRefusal: passthroughRefusal)
            }
        } catch {
            coherence.watch?.close()
            logError("cannot set up the filesystem: \(error)")
            return 1
        }
        context.fileSystem = fileSystem
        // A pressure source the kernel or privileges refuse, said once (the
        // root cgroup is not a refusal: the system-wide trigger covers it).
        if configuration.psiThresholdMicroseconds > 0 {
            for (source, state) in (fileSystem.cache.statistics().pressureSources ?? [:]).sorted(by: { $0.key < $1.key })
            where state.hasPrefix("off: ") && !state.contains("root memory cgroup") {
                logError("memory pressure: \(source) \(state)")
            }
        }
        fileSystem.passthrough.attach(session: session)
        withSignalsBlocked {
            fileSystem.kernelDrops.start(session: session)
            fileSystem.watcher?.start(session: session)
        }
        let result: Int32
        if configuration.usesOneThread {
            result = fileSystem.requestLoop.run(session)
        } else {
            let loop = fuse_loop_cfg_create()
            fuse_loop_cfg_set_clone_fd(loop, 0)
            // At most --threads workers; idle ones stay, so that the set does
            // not churn (a new thread is a new stack and request buffer).
            let workers = UInt32(configuration.threads)
            fuse_loop_cfg_set_max_threads(loop, workers)
            fuse_loop_cfg_set_idle_threads(loop, workers)
            result = fuse_session_loop_mt(session, loop)
            fuse_loop_cfg_destroy(loop)
        }
        fileSystem.watcher?.stop()
        fileSystem.kernelDrops.stop()
        // 0: unmounted; a positive number: the signal that ended the loop
        // (libfuse's handler records it), a clean exit too; negative: -errno.
        if result < 0 {
            logError("FUSE loop ended with an error: \(Errno(rawValue: -result))")
            return 1
        }
        return 0
    }

    /// The fanotify group for `--coherence auto|events`, or why there is
    /// none. `events` where events cannot work refuses to mount; `auto` falls
    /// back to timeouts and says so once, here (and in stats).
    private static func openWatch(_ configuration: MountConfiguration, _ backing: BackingDirectory)
        throws(MountFailure) -> (watch: BackingWatch?, reason: String?) {
        if configuration.coherence == .timeouts { return (nil, "--coherence timeouts") }
        let result: Result<BackingWatch, CoherenceFailure>
        if FileSystem.handlesWork(backing) {
            result = BackingWatch.open(source: configuration.source)
        } else {
            // Events name files by handle, and so does the cache only then.
            result = .failure(CoherenceFailure("file handles do not work here (open_by_handle_at needs CAP_DAC_READ_SEARCH)"))
        }
        switch result {
        case .success(let watch):
            if !watch.unwatched.isEmpty {
                logError("coherence: events, except on timeouts for \(watch.unwatched.joined(separator: "; "))")
            }
            return (watch, nil)
        case .failure(let failure) where configuration.coherence == .events:
            throw MountFailure(message: "--coherence events: cannot watch '\(configuration.source)': \(failure.reason)")
        case .failure(let failure):
            logError("coherence: timeouts, not events: \(failure.reason)")
            return (nil, failure.reason)
        }
    }

    /// Whether FUSE passthrough can work, decided before mounting as far as
    /// it can be: a kernel of 6.9 or later and CAP_SYS_ADMIN (the kernel
    /// checks it only at the first registration, EPERM). The kernel's offer
    /// at INIT and that first registration decide the rest (Passthrough).
    /// nil when it may; else why not: `on` refuses to mount, `auto` says so
    /// once and serves files through the daemon.
    private static func probePassthrough(_ configuration: MountConfiguration) throws(MountFailure) -> String? {
        if configuration.passthrough == .off { return "--passthrough off" }
        var reason: String?
        if !kernelIsAtLeast(6, 9) {
            reason = "this kernel has no FUSE passthrough (Linux 6.9 or later)"
        } else if !hasEffectiveCapability(21) || !inInitialUserNamespace() {  // CAP_SYS_ADMIN
            // The kernel checks it in the initial user namespace: root in a
            // container does not have it there.
            reason = "FUSE passthrough needs CAP_SYS_ADMIN (in the initial user namespace)"
        }
        guard let reason else { return nil }
        if configuration.passthrough == .on { throw MountFailure(message: "--passthrough on: \(reason)") }
        logError("passthrough: off, files are served by the daemon: \(reason)")
        return reason
    }

    private static func kernelIsAtLeast(_ major: Int, _ minor: Int) -> Bool {
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard numbers.count == 2 else { return false }
        return (numbers[0], numbers[1]) >= (major, minor)
    }

    /// From CapEff in /proc/self/status.
    private static func hasEffectiveCapability(_ bit: Int) -> Bool {
        guard let status = readKernelFile("/proc/self/status"),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst("CapEff:".count).trimmingPrefix(while: \.isWhitespace), radix: 16)
        else { return false }
        return mask & (1 << UInt64(bit)) != 0
    }

    /// The initial user namespace maps every uid to itself.
    private static func inInitialUserNamespace() -> Bool {
        let map = readKernelFile("/proc/self/uid_map")?.split(whereSeparator: \.isWhitespace) ?? []
        return map == ["0", "0", "4294967295"]
    }

    private static func libfuseReason(_ fallback: String) -> String {
        LibfuseLog.shared.takeLastError() ?? fallback
    }

    /// Runs `body` with every signal blocked, so that threads it starts
    /// (they inherit the mask) leave SIGINT and SIGTERM to the loop's
    /// thread, as libfuse's own workers do.
    private static func withSignalsBlocked<R>(_ body: () throws -> R) rethrows -> R {
        var all = sigset_t(), saved = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        return try body()
    }
}

/// libfuse's argv (`struct fuse_args`), in C strings we own.
private struct LibfuseArguments {
    let strings: [UnsafeMutablePointer<CChar>?]
    let vector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let pointer: UnsafeMutablePointer<fuse_args>

    init(_ words: [String]) {
        strings = words.map { strdup($0) }
        vector = .allocate(capacity: strings.count + 1)
        vector.initialize(from: strings + [nil], count: strings.count + 1)
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: fuse_args(argc: Int32(strings.count), argv: vector, allocated: 0))
    }

    func free() {
        // libfuse copies the vector if it changes it (then `allocated`).
        fuse_opt_free_args(pointer)
        pointer.deallocate()
        vector.deallocate()
        for string in strings { Glibc.free(string) }
    }
}
