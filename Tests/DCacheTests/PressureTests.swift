@testable import DCache
import Glibc
import Slab
import Testing

@Suite("Pressure sources")
struct PressureTests {
    @Test("a PSI event, or one of the daemon's memory cgroup, makes the reclaim thread give back a share of the resident pages, counted by its source",
          arguments: [DirectoryCache.PressureSource.psi, .cgroup])
    func pressureEvent(source: DirectoryCache.PressureSource) throws {
        let cache = try makeRootedCache { $0.psiReclaimFraction = 0.5 }
        try populate(cache, files: 8192)
        let before = cache.residentPages
        // What the pressure thread does when poll() reports an event.
        cache.reclaimer.signal(source)
        cache.waitForReclaim()
        #expect(cache.residentPages <= before - before / 2 + 2)
        #expect(cache.statistics()[.pressurePSI] == (source == .psi ? 1 : 0))
        #expect(cache.statistics()[.pressureCgroup] == (source == .cgroup ? 1 : 0))
        #expect(cache.lastReclaim?.source == source.rawValue)
    }

    @Test("the PSI trigger is registered on /proc/pressure/memory and stops cleanly",
          .enabled(if: access("/proc/pressure/memory", W_OK) == 0, "PSI not writable here"))
    func psiTrigger() throws {
        let cache = try makeCache { $0.psiThresholdMicroseconds = 150_000 }
        let monitor = try #require(cache.pressure)
        #expect(monitor.sources["psi"]?.hasPrefix("/proc/pressure/memory (some ") == true, "\(monitor.sources)")
        #expect(cache.statistics().pressureSources == monitor.sources)
        #expect(monitor.isActive)
        monitor.stop()
        #expect(!monitor.isActive)
    }

    @Test("an explicit reclaim request is counted by its source")
    func explicit() throws {
        let cache = try makeRootedCache()
        try populate(cache, files: 512)
        let report = cache.reclaim(pages: 4, source: .explicit)
        #expect(cache._invariantViolations() == [])
        #expect(report.source == "explicit")
        #expect(cache.statistics()[.pressureExplicit] == 1)
        #expect(cache.statistics()[.evictionsReclaim] == report.evicted)
    }

    @Test("a bad configuration is refused with a clear error")
    func badConfiguration() {
        #expect(throws: DCacheError.invalidConfiguration("watermarks must satisfy 0 < low <= high <= 1")) {
            _ = try makeCache { $0.lowWatermark = 0.9; $0.highWatermark = 0.5 }
        }
    }
}

@Suite("The daemon's own memory cgroup")
struct CgroupPressureTests {
    @Test("/proc/self/cgroup names the memory cgroup: v1's controller line first, else the unified hierarchy")
    func parsesProcSelfCgroup() {
        #expect(CgroupPressure.ownMemoryCgroup("9:name=systemd:/\n4:memory:/a/b\n0::/\n")! == (1, "/a/b"))
        #expect(CgroupPressure.ownMemoryCgroup("5:cpu,memory:/x\n")! == (1, "/x"))
        #expect(CgroupPressure.ownMemoryCgroup("0::/user.slice/u.scope\n")! == (2, "/user.slice/u.scope"))
        #expect(CgroupPressure.ownMemoryCgroup("3:cpuset:/\n") == nil)
    }

    @Test("outside any cgroup of its own, or with no such file, it says why")
    func unavailable() throws {
        let root = try #require(temporaryFile("4:memory:/\n"))
        defer { unlink(root) }
        guard case .failure(let why) = CgroupPressure.register(trigger: "some 1000 1000000", cgroupFile: root) else {
            Issue.record("the root cgroup was registered")
            return
        }
        #expect(why.reason.contains("root memory cgroup"))
        guard case .failure(let missing) = CgroupPressure.register(trigger: "some 1000 1000000",
                                                                    cgroupFile: "/nonexistent/cgroup") else {
            Issue.record("registered without a cgroup file")
            return
        }
        #expect(missing.reason.contains("cannot read"))
    }

    @Test("a v1 memory cgroup reclaiming under its limit wakes the registered eventfd",
          .enabled(if: getuid() == 0 && access("/sys/fs/cgroup/memory/cgroup.event_control", W_OK) == 0))
    func version1Event() throws {
        let name = "slabfs-test-\(getpid())"
        let directory = "/sys/fs/cgroup/memory/" + name
        try #require(mkdir(directory, 0o755) == 0)
        let data = "/var/tmp/\(name).data"
        defer {
            unlink(data)
            rmdir(directory)
        }
        #expect(writeText(directory + "/memory.limit_in_bytes", "16777216"))
        let procSelf = try #require(temporaryFile("4:memory:/\(name)\n"))
        defer { unlink(procSelf) }
        // "low": any reclaim in the cgroup, which writing a file four times
        // its limit forces (the daemon asks for "medium").
        let registered = try CgroupPressure.register(trigger: "some 1000 1000000", cgroupFile: procSelf, level: "low").get()
        defer { registered.close() }
        #expect(registered.description.hasSuffix("memory.pressure_level (low)"))
        let writer = try spawn("/bin/sh", ["-c", "echo $$ > \(directory)/cgroup.procs && exec /bin/dd if=/dev/zero of=\(data) bs=1M count=64 conv=fsync status=none"])
        var status: Int32 = 0
        waitpid(writer, &status, 0)
        var wait = pollfd(fd: registered.descriptor, events: registered.events, revents: 0)
        #expect(poll(&wait, 1, 5_000) == 1, "no pressure event for a cgroup reclaiming under its limit")
        registered.acknowledge()
        wait.revents = 0
        #expect(poll(&wait, 1, 0) == 0, "acknowledged: the eventfd is quiet again")
    }
}

private func temporaryFile(_ text: String) -> String? {
    var template = Array("/tmp/slabfs-cgroup-XXXXXX".utf8CString)
    let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    _ = text.withCString { write(descriptor, $0, strlen($0)) }
    return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func writeText(_ path: String, _ text: String) -> Bool {
    let descriptor = open(path, O_WRONLY)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    return text.withCString { write(descriptor, $0, strlen($0)) } > 0
}

private func spawn(_ program: String, _ arguments: [String]) throws -> pid_t {
    var pid: pid_t = 0
    let argv = ([program] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let rc = posix_spawn(&pid, program, nil, nil, argv, environ)
    guard rc == 0 else { throw SpawnError(code: rc) }
    return pid
}

private struct SpawnError: Error { let code: Int32 }
