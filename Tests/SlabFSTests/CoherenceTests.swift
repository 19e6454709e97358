import CFuse
import DCache
import Testing
@testable import SlabFS

/// fanotify events as the kernel lays them out, parsed; and the coherence
/// settings.
@Suite struct CoherenceTests {
    /// One event as fanotify(7) lays it out: metadata, then FID records.
    static func event(mask: UInt64, pid: Int32, records: [[UInt8]]) -> [UInt8] {
        let body = records.flatMap { $0 }
        var bytes: [UInt8] = []
        func append<T>(_ value: T) { withUnsafeBytes(of: value) { bytes += $0 } }
        append(UInt32(24 + body.count))
        append(UInt8(FANOTIFY_METADATA_VERSION))
        append(UInt8(0))
        append(UInt16(24))
        append(mask)
        append(Int32(-1))
        append(pid)
        return bytes + body
    }

    static func record(kind: Int32, fsid: (Int32, Int32), handle: BackingFileHandle, name: String? = nil) -> [UInt8] {
        var body: [UInt8] = []
        func append<T>(_ value: T) { withUnsafeBytes(of: value) { body += $0 } }
        append(fsid.0)
        append(fsid.1)
        append(UInt32(handle.bytes.count))
        append(handle.type)
        body += handle.bytes
        if let name { body += Array(name.utf8) + [0] }
        while (body.count + 4) % 4 != 0 { body.append(0) }
        var header: [UInt8] = [UInt8(kind), 0]
        withUnsafeBytes(of: UInt16(body.count + 4)) { header += $0 }
        return header + body
    }

    static let directory = BackingFileHandle(type: 1, bytes: [2, 0, 0, 0, 9, 9, 9, 9])
    static let file = BackingFileHandle(type: 1, bytes: [12, 0, 0, 0, 7, 7, 7, 7])

    @Test("a create, an attribute change and an overflow parse into what they name")
    func parsesEvents() {
        let fsid: (Int32, Int32) = (0x1234, -5)
        let bytes = Self.event(mask: UInt64(FAN_CREATE), pid: 4242, records: [
            Self.record(kind: Int32(FAN_EVENT_INFO_TYPE_DFID_NAME), fsid: fsid, handle: Self.directory, name: "new file"),
            Self.record(kind: Int32(FAN_EVENT_INFO_TYPE_FID), fsid: fsid, handle: Self.file),
        ]) + Self.event(mask: UInt64(FAN_ATTRIB | FAN_ONDIR), pid: 7, records: [
            Self.record(kind: Int32(FAN_EVENT_INFO_TYPE_DFID_NAME), fsid: fsid, handle: Self.directory, name: "."),
            Self.record(kind: Int32(FAN_EVENT_INFO_TYPE_FID), fsid: fsid, handle: Self.directory),
        ]) + Self.event(mask: UInt64(FAN_Q_OVERFLOW), pid: 0, records: [])
        let events = bytes.withUnsafeBytes { BackingEvent.parse($0) }
        #expect(events.count == 3)
        guard events.count == 3 else { return }
        let create = events[0]
        #expect(create.pid == 4242 && create.changesEntry && !create.changesData && !create.isOverflow)
        #expect(create.fileSystem == BackingEvent.FileSystemID(words: fsid))
        #expect(create.directory == Self.directory && create.object == Self.file)
        #expect(create.entryName == Array("new file".utf8))
        let attributes = events[1]
        #expect(attributes.changesObject && !attributes.changesEntry && attributes.entryName == nil)
        #expect(attributes.object == Self.directory)
        #expect(events[2].isOverflow && events[2].object == nil)
    }

    @Test("the daemon's own events keep their mask and pid only; the others parse as before")
    func skipsOwnRecords() {
        let fsid: (Int32, Int32) = (3, 4)
        let records = [Self.record(kind: Int32(FAN_EVENT_INFO_TYPE_DFID_NAME), fsid: fsid, handle: Self.directory, name: "f"),
                       Self.record(kind: Int32(FAN_EVENT_INFO_TYPE_FID), fsid: fsid, handle: Self.file)]
        let bytes = Self.event(mask: UInt64(FAN_CREATE), pid: 99, records: records)
            + Self.event(mask: UInt64(FAN_CLOSE_WRITE), pid: 7, records: records)
        let events = bytes.withUnsafeBytes { BackingEvent.parse($0, skippedProcess: 99) }
        #expect(events.count == 2)
        guard events.count == 2 else { return }
        #expect(events[0].pid == 99 && events[0].changesEntry)
        #expect(events[0].directory == nil && events[0].object == nil && events[0].name == nil && events[0].fileSystem == nil)
        #expect(events[1].pid == 7 && events[1].object == Self.file && events[1].directory == Self.directory)
        #expect(events[1].entryName == Array("f".utf8))
    }

    @Test("a truncated buffer or a record longer than its event ends the parse, never reads past it")
    func refusesMalformed() {
        let good = Self.event(mask: UInt64(FAN_MODIFY), pid: 1, records: [
            Self.record(kind: Int32(FAN_EVENT_INFO_TYPE_FID), fsid: (1, 2), handle: Self.file),
        ])
        let truncated = Array(good.dropLast(3))
        #expect(truncated.withUnsafeBytes { BackingEvent.parse($0) }.isEmpty)
        var lying = good
        lying[24 + 2] = 200  // the record says 200 bytes; the event has 28
        let events = lying.withUnsafeBytes { BackingEvent.parse($0) }
        #expect(events.count == 1 && events.first?.object == nil)
    }

    @Test("mount points under the backing directory, octal escapes undone, the directory itself and others excluded")
    func mountPointsUnder() {
        let mountinfo = """
            22 1 8:1 / / rw - ext4 /dev/sda1 rw
            30 22 0:40 / /srv/data rw - ext4 /dev/sdb1 rw
            31 30 0:41 / /srv/data/sub\\040dir rw - tmpfs tmpfs rw
            32 30 0:42 / /srv/data/nfs rw - nfs server:/x rw
            33 22 0:43 / /srv/database rw - tmpfs tmpfs rw
            """
        #expect(BackingWatch.mountPoints(under: "/srv/data", mountinfo: mountinfo) == ["/srv/data/sub dir", "/srv/data/nfs"])
        #expect(BackingWatch.mountPoints(under: "/", mountinfo: mountinfo).count == 4)
    }

    @Test("with events, timeouts and the kernel cache limit not given default to an hour and half the budget")
    func eventDefaults() throws {
        let scratch = try OptionsScratch()
        let plain = try parseMount(scratch.arguments()).applyingCoherenceDefaults(eventsActive: true)
        #expect(plain.coherence == .auto)
        #expect(plain.entryTimeoutSeconds == 3600 && plain.attrTimeoutSeconds == 3600 && plain.cacheTimeoutSeconds == 3600)
        #expect(plain.kernelCacheLimit == MountConfiguration.defaultCacheSizeBytes / 2 / 144)
        let given = try parseMount(scratch.arguments("entry_timeout=2,kernel_cache_limit=0,coherence=events"))
            .applyingCoherenceDefaults(eventsActive: true)
        #expect(given.coherence == .events && given.entryTimeoutSeconds == 2 && given.kernelCacheLimit == 0)
        #expect(given.attrTimeoutSeconds == 3600)
        let timeouts = try parseMount(scratch.arguments()).applyingCoherenceDefaults(eventsActive: false)
        #expect(timeouts.entryTimeoutSeconds == 1 && timeouts.cacheTimeoutSeconds == 60 && timeouts.kernelCacheLimit == 0)
    }

    @Test("coherence takes auto, events or timeouts, as -o and as --coherence; anything else is refused")
    func coherenceValues() throws {
        let scratch = try OptionsScratch()
        for mode in CoherenceMode.allCases {
            #expect(try parseMount(scratch.arguments("coherence=\(mode.rawValue)")).coherence == mode)
            var long = scratch.arguments()
            long.coherence = mode.rawValue
            #expect(try parseMount(long).coherence == mode)
        }
        #expect(throws: MountOptionError.self) { try parseMount(scratch.arguments("coherence=sometimes")) }
    }
}
