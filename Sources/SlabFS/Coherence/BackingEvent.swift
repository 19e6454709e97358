import CFuse
import DCache

/// One fanotify event, as a group initialised with `FAN_REPORT_FID |
/// FAN_REPORT_DFID_NAME` reports it (fanotify(7)): the event mask, the
/// process that caused it, and the objects it names by file handle: the
/// directory and the entry's name for changes of a directory's entries,
/// the object itself for changes of an object.
struct BackingEvent: Equatable {
    /// `__kernel_fsid_t`: which filesystem the handles belong to.
    struct FileSystemID: Hashable {
        var words: (Int32, Int32)
        static func == (a: Self, b: Self) -> Bool { a.words == b.words }
        func hash(into hasher: inout Hasher) {
            hasher.combine(words.0)
            hasher.combine(words.1)
        }
    }

    var mask: UInt64
    var pid: Int32
    var fileSystem: FileSystemID?
    /// The directory whose entry changed (or that holds the object).
    var directory: BackingFileHandle?
    /// The entry's name in `directory`; nil or "." for the directory itself.
    var name: [UInt8]?
    /// The object the event is about.
    var object: BackingFileHandle?

    static let entryChanges = UInt64(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)
    static let dataChanges = UInt64(FAN_MODIFY | FAN_CLOSE_WRITE)
    static let objectChanges = UInt64(FAN_ATTRIB | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_MOVED_FROM | FAN_MOVED_TO)
    /// What the watcher asks for: every change of names, attributes and
    /// data, of directories too.
    static let watchedMask = UInt64(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ATTRIB
        | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_DELETE_SELF | FAN_MOVE_SELF | FAN_ONDIR)

    var isOverflow: Bool { mask & UInt64(FAN_Q_OVERFLOW) != 0 }
    /// A name in `directory` was made, removed or moved.
    var changesEntry: Bool { mask & Self.entryChanges != 0 }
    /// The object's attributes (and, `changesData`, its data) changed.
    var changesObject: Bool { mask & Self.objectChanges != 0 }
    var changesData: Bool { mask & Self.dataChanges != 0 }
    /// The entry's name, unless the event is about the directory itself.
    var entryName: [UInt8]? {
        guard let name, !name.isEmpty, name != [0x2E] else { return nil }
        return name
    }

    static func == (a: Self, b: Self) -> Bool {
        a.mask == b.mask && a.pid == b.pid && a.fileSystem == b.fileSystem && a.directory == b.directory
            && a.name == b.name && a.object == b.object
    }
}

extension BackingEvent {
    // struct fanotify_event_metadata: event_len u32, vers u8, reserved u8,
    // metadata_len u16, mask u64, fd s32, pid s32.
    static let metadataSize = 24
    // struct fanotify_event_info_header: info_type u8, pad u8, len u16; then
    // for the FID kinds: fsid (2 x s32) and struct file_handle
    // (handle_bytes u32, handle_type s32, f_handle), then for the DFID_NAME
    // kinds the name, NUL-terminated.
    static let infoHeaderSize = 4
    static let fidPrefixSize = infoHeaderSize + 8 + 8

    /// The events in a buffer `read(2)` filled. A record that does not fit
    /// its event, or an event that does not fit the buffer, ends the parse:
    /// the kernel never writes one, and guessing would be worse. Events of
    /// `skippedProcess` keep only their mask and pid: the watcher skips the
    /// daemon's own, most events while files are made through the mount,
    /// and copying out their handles and names would be wasted.
    static func parse(_ buffer: UnsafeRawBufferPointer, skippedProcess: Int32? = nil) -> [BackingEvent] {
        var events: [BackingEvent] = []
        var offset = 0
        while buffer.count - offset >= metadataSize {
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let metadataLength = Int(buffer.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self))
            guard length >= metadataSize, metadataLength >= metadataSize, metadataLength <= length,
                  offset + length <= buffer.count else { break }
            var event = BackingEvent(mask: buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self),
                                     pid: buffer.loadUnaligned(fromByteOffset: offset + 20, as: Int32.self))
            var info = event.pid == skippedProcess ? offset + length : offset + metadataLength
            while offset + length - info >= infoHeaderSize {
                let kind = Int32(buffer[info])
                let recordLength = Int(buffer.loadUnaligned(fromByteOffset: info + 2, as: UInt16.self))
                guard recordLength >= infoHeaderSize, info + recordLength <= offset + length else { break }
                let record = UnsafeRawBufferPointer(rebasing: buffer[info..<(info + recordLength)])
                event.read(record, kind: kind)
                info += recordLength
            }
            events.append(event)
            offset += length
        }
        return events
    }

    private init(mask: UInt64, pid: Int32) {
        self.mask = mask
        self.pid = pid
    }

    /// One information record; kinds other than the FID ones are skipped.
    private mutating func read(_ record: UnsafeRawBufferPointer, kind: Int32) {
        let isObject = kind == FAN_EVENT_INFO_TYPE_FID
        let isDirectory = kind == FAN_EVENT_INFO_TYPE_DFID || kind == FAN_EVENT_INFO_TYPE_DFID_NAME
        guard isObject || isDirectory, record.count >= Self.fidPrefixSize else { return }
        fileSystem = FileSystemID(words: (record.loadUnaligned(fromByteOffset: 4, as: Int32.self),
                                          record.loadUnaligned(fromByteOffset: 8, as: Int32.self)))
        let handleLength = Int(record.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        let handleType = record.loadUnaligned(fromByteOffset: 16, as: Int32.self)
        let handleEnd = Self.fidPrefixSize + handleLength
        guard handleEnd <= record.count else { return }
        let handle = BackingFileHandle(type: handleType, bytes: Array(record[Self.fidPrefixSize..<handleEnd]))
        if isObject {
            object = handle
            return
        }
        directory = handle
        if kind == FAN_EVENT_INFO_TYPE_DFID_NAME {
            let rest = record[handleEnd...]
            name = Array(rest.prefix { $0 != 0 })
        }
    }
}
