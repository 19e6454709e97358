import Synchronization

/// Which coherence mode is in force, why, and what the event watcher has
/// done: `user.slabfs.stats` shows it under `coherence`.
///
/// With events, every change made behind the mount is reported by the
/// backing filesystem, so the kernel and our cache may trust what they hold
/// for long (an hour: `MountConfiguration.eventTimeoutSeconds`), and the
/// watcher drops exactly what changed. Files on a filesystem under the
/// backing directory that cannot be watched keep short timeouts.
final class Coherence: Sendable {
    /// "events" or "timeouts".
    let mode: String
    /// Why events are not used (nil when they are), or which parts are not
    /// watched.
    let reason: String?
    let watchedPaths: [String]
    let unwatchedPaths: [String]
    private let watchedDevices: Set<UInt64>
    private let singleWatchedDevice: UInt64?
    let eventsActive: Bool
    /// The watcher stopped for good (it cannot read events any more): every
    /// reply goes back to the short timeouts.
    let watcherFailed = Atomic<Bool>(false)

    // What the watcher did.
    let events = Atomic<Int>(0)
    let ownEvents = Atomic<Int>(0)
    let namesInvalidated = Atomic<Int>(0)
    let nodesInvalidated = Atomic<Int>(0)
    let kernelNotifications = Atomic<Int>(0)
    let overflows = Atomic<Int>(0)
    let epochBumps = Atomic<Int>(0)
    let errors = Atomic<Int>(0)
    // What the attribute refresher did.
    let attributesRefreshed = Atomic<Int>(0)
    let refreshesDropped = Atomic<Int>(0)

    init(watch: BackingWatch?, reason: String?) {
        eventsActive = watch != nil
        mode = watch != nil ? "events" : "timeouts"
        watchedPaths = watch.map { $0.fileSystems.values.map(\.path).sorted() } ?? []
        unwatchedPaths = watch?.unwatched ?? []
        watchedDevices = watch?.watchedDevices ?? []
        singleWatchedDevice = watchedDevices.count == 1 ? watchedDevices.first : nil
        self.reason = reason ?? (unwatchedPaths.isEmpty ? nil : "not watched, on timeouts: " + unwatchedPaths.joined(separator: "; "))
    }

    /// Whether replies for a file on `device` must keep the short timeouts:
    /// events are on, but not for its filesystem.
    @inline(__always)
    func needsShortTimeouts(device: UInt64) -> Bool {
        guard eventsActive else { return false }
        if watcherFailed.load(ordering: .relaxed) { return true }
        if let singleWatchedDevice { return device != singleWatchedDevice }
        return !watchedDevices.contains(device)
    }

    /// Whether events report every change anywhere under the backing
    /// directory now (so that the kernel forgets a file that goes behind
    /// the mount).
    var reportsEveryChange: Bool {
        eventsActive && unwatchedPaths.isEmpty && !watcherFailed.load(ordering: .relaxed)
    }

    var statistics: CoherenceStatistics {
        let failed = watcherFailed.load(ordering: .relaxed)
        return CoherenceStatistics(
            mode: failed ? "timeouts" : mode, reason: failed ? "the event watcher failed; see the log" : reason, watched: watchedPaths, events: events.load(ordering: .relaxed),
            ownEvents: ownEvents.load(ordering: .relaxed), namesInvalidated: namesInvalidated.load(ordering: .relaxed),
            nodesInvalidated: nodesInvalidated.load(ordering: .relaxed),
            kernelNotifications: kernelNotifications.load(ordering: .relaxed),
            overflows: overflows.load(ordering: .relaxed), epochBumps: epochBumps.load(ordering: .relaxed),
            errors: errors.load(ordering: .relaxed), attributesRefreshed: attributesRefreshed.load(ordering: .relaxed),
            refreshesDropped: refreshesDropped.load(ordering: .relaxed))
    }
}

/// `coherence` in `user.slabfs.stats`.
public struct CoherenceStatistics: Codable, Sendable, Equatable {
    /// "events" or "timeouts".
    public var mode: String
    /// Why the mode is timeouts, or which parts fell back to them.
    public var reason: String?
    /// The filesystems marked for events.
    public var watched: [String]
    /// Events read, and of those, the daemon's own (skipped: the request
    /// that made the change already updated the caches).
    public var events: Int
    public var ownEvents: Int
    /// Cached names and nodes dropped or made stale because of events.
    public var namesInvalidated: Int
    public var nodesInvalidated: Int
    /// inval_entry and inval_inode notifications sent to the kernel.
    public var kernelNotifications: Int
    /// Times events were lost (FAN_Q_OVERFLOW or a read error): everything
    /// cached was made stale, ours and the kernel's.
    public var overflows: Int
    /// Times the kernel was told to drop every name at once (Linux 6.16's
    /// FUSE_NOTIFY_INC_EPOCH), after lost events.
    public var epochBumps: Int
    public var errors: Int
    /// Stale attributes of written files read again in idle time (the
    /// attribute refresher), and nodes it had no room to queue.
    public var attributesRefreshed: Int
    public var refreshesDropped: Int
}
