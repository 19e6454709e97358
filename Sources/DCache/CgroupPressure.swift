import CSlabSupport
import Glibc

/// Memory pressure in the daemon's own memory cgroup, where the system-wide
/// PSI trigger does not see it: a cgroup at its limit stalls only its own
/// members, for tens of milliseconds before the kernel's OOM killer picks
/// one, far below any system-wide threshold (measured: 11-29 ms of "some"
/// stall in the second before the daemon was killed).
///
/// On cgroup v1 the memory controller reports reclaim in the cgroup through
/// `memory.pressure_level` and an eventfd registered in
/// `cgroup.event_control` (Documentation/admin-guide/cgroup-v1/memory.rst);
/// "medium" is reclaim that has started to fail to keep up, not the plain
/// page-cache turnover "low" would report. On cgroup v2 the cgroup's own
/// `memory.pressure` takes the same PSI trigger as /proc/pressure/memory.
/// The root cgroup is left to the system-wide trigger.
struct CgroupPressure {
    /// What `poll` waits on, and for which event.
    let descriptor: CInt
    let events: Int16
    /// Which file, for the log and stats.
    let description: String
    /// Kept open for as long as the v1 registration lasts.
    private let levelFile: CInt

    /// The level of `memory.pressure_level` a v1 registration asks for.
    static let level = "medium"

    /// Registers for pressure events in the memory cgroup `/proc/self/cgroup`
    /// names, with `trigger` ("some STALL WINDOW") on v2. Nil and a reason
    /// where there is none to watch.
    static func register(trigger: String, cgroupFile: String = "/proc/self/cgroup", root: String = "/sys/fs/cgroup",
                         level: String = CgroupPressure.level) -> Result<CgroupPressure, Unavailable> {
        guard let text = readKernelFile(cgroupFile) else {
            return .failure(.init(reason: "cannot read \(cgroupFile)"))
        }
        switch ownMemoryCgroup(text) {
        case nil:
            return .failure(.init(reason: "no memory cgroup in \(cgroupFile)"))
        case (_, "/")?:
            return .failure(.init(reason: "in the root memory cgroup (the system-wide trigger covers it)"))
        case (1, let path)?:
            return registerVersion1(directory: root + "/memory" + path, level: level)
        case (_, let path)?:
            return registerVersion2(file: root + path + "/memory.pressure", trigger: trigger)
        }
    }

    struct Unavailable: Error {
        let reason: String
    }

    /// (1, path) for a v1 memory controller, (2, path) for the unified
    /// hierarchy when no v1 memory controller is mounted.
    static func ownMemoryCgroup(_ procSelfCgroup: String) -> (version: Int, path: String)? {
        var unified: String?
        for line in procSelfCgroup.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[1].split(separator: ",").contains("memory") { return (1, String(fields[2])) }
            if fields[0] == "0" && fields[1].isEmpty { unified = String(fields[2]) }
        }
        return unified.map { (2, $0) }
    }

    private static func registerVersion1(directory: String, level levelName: String) -> Result<CgroupPressure, Unavailable> {
        let level = open(directory + "/memory.pressure_level", O_RDONLY | O_CLOEXEC)
        guard level >= 0 else { return .failure(.init(reason: "cannot open \(directory)/memory.pressure_level: \(errorText())")) }
        let event = slab_eventfd()
        let control = open(directory + "/cgroup.event_control", O_WRONLY | O_CLOEXEC)
        defer { if control >= 0 { Glibc.close(control) } }
        let registration = "\(event) \(level) \(levelName)"
        guard event >= 0, control >= 0,
              registration.withCString({ write(control, $0, strlen($0)) }) > 0 else {
            if event < 0 { errno = -event }
            let reason = "cannot register in \(directory)/cgroup.event_control: \(errorText())"
            if event >= 0 { Glibc.close(event) }
            Glibc.close(level)
            return .failure(.init(reason: reason))
        }
        return .success(CgroupPressure(descriptor: event, events: Int16(POLLIN),
                                       description: directory + "/memory.pressure_level (\(levelName))", levelFile: level))
    }

    private static func registerVersion2(file: String, trigger: String) -> Result<CgroupPressure, Unavailable> {
        let descriptor = open(file, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return .failure(.init(reason: "cannot open \(file): \(errorText())")) }
        guard trigger.withCString({ write(descriptor, $0, strlen($0) + 1) }) > 0 else {
            let reason = "trigger refused by \(file): \(errorText())"
            Glibc.close(descriptor)
            return .failure(.init(reason: reason))
        }
        return .success(CgroupPressure(descriptor: descriptor, events: Int16(POLLPRI),
                                       description: file + " (\(trigger))", levelFile: -1))
    }

    /// After an event: an eventfd's count is read (else it stays readable).
    func acknowledge() {
        guard events == Int16(POLLIN) else { return }
        var count: UInt64 = 0
        _ = read(descriptor, &count, MemoryLayout<UInt64>.size)
    }

    func close() {
        _ = Glibc.close(descriptor)
        if levelFile >= 0 { _ = Glibc.close(levelFile) }
    }
}

private func errorText() -> String { String(cString: strerror(errno)) }
