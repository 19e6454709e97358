/// `-o` lists: splitting them, and what each known option means for us.
///
/// mount.fuse3 runs the helper as `slabfs SOURCE MOUNTPOINT -o OPTIONS`,
/// having dropped `user`, `nouser`, `users`, `auto`, `noauto`, `_netdev`,
/// `nofail`, `setuid=` and `drop_privileges`, and having appended `dev` and
/// `suid` unless `nodev`/`nosuid` were given (libfuse util/mount.fuse.c).
/// Whatever mount(8) or fstab hands us must be accepted, so the generic
/// options are known here; anything else is refused rather than guessed.
enum MountOption: Equatable {
    /// One of our settings, `key=value`.
    case setting(Setting)
    case allowOther
    case debug
    /// Always on anyway; accepted so fstab lines may say it.
    case defaultPermissions
    case fileSystemName
    case subtype
    /// `ro` (true) or `rw` (false): passed through, and remembered.
    case readOnly(Bool)
    /// A kernel or libfuse option we pass through as given.
    case passThrough
    /// A userspace option of mount(8) or fstab with no meaning here.
    case ignored
    /// Known, but not accepted; the string says why.
    case unsupported(String)

    /// Kernel mount flags and libfuse mount options (libfuse lib/mount.c)
    /// that need nothing from us: passed to libfuse unchanged.
    static let passedThroughFlags: Set<String> = [
        "rw", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "async", "sync", "dirsync",
        "atime", "noatime", "diratime", "nodiratime", "lazytime", "nolazytime",
        "relatime", "norelatime", "strictatime", "nostrictatime", "auto_unmount",
    ]
    /// `key=value` options libfuse understands and we pass on: the mtab user
    /// and SELinux contexts.
    static let passedThroughKeys: Set<String> = ["user", "context", "fscontext", "defcontext", "rootcontext"]
    /// mount(8)'s own options, which reach us when slabfs runs by hand with an
    /// fstab-style list.
    static let ignoredFlags: Set<String> = ["defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group", "nofail", "_netdev"]

    /// Classifies `key` (given with a value when `hasValue`), or nil if unknown.
    static func classify(key: String, hasValue: Bool) -> MountOption? {
        if let setting = Setting(optionKey: key) { return .setting(setting) }
        switch key {
        case "allow_other": return .allowOther
        case "debug": return .debug
        case "default_permissions": return .defaultPermissions
        case "fsname": return .fileSystemName
        case "subtype": return .subtype
        case "ro": return .readOnly(true)
        case "rw": return .readOnly(false)
        case "allow_root": return .unsupported("is not supported; use allow_other")
        case "setuid", "drop_privileges":
            return .unsupported("is for mount.fuse3; mount with 'mount -t fuse.slabfs' to use it")
        default: break
        }
        // "user" alone is mount(8)'s; "user=NAME" is libfuse's mtab entry.
        if hasValue ? passedThroughKeys.contains(key) : passedThroughFlags.contains(key) { return .passThrough }
        if !hasValue && ignoredFlags.contains(key) { return .ignored }
        if key.hasPrefix("x-") || key == "comment" { return .ignored }  // userspace-only by convention
        return nil
    }

    /// Whether the option is written `key=value` (nil: either way).
    var takesValue: Bool? {
        switch self {
        case .setting, .fileSystemName, .subtype: true
        case .allowOther, .debug, .defaultPermissions, .readOnly: false
        case .passThrough, .ignored, .unsupported: nil
        }
    }
}

/// One item of a `-o` list.
struct MountOptionItem: Equatable {
    var key: String
    var value: String?
    /// The item as written (unescaped), for messages and for passing through.
    var text: String { value.map { "\(key)=\($0)" } ?? key }
}

extension MountOptionItem {
    /// Splits `-o` text at commas, as libfuse does: a backslash makes the next
    /// character literal (`fsname=a\,b`), and empty items are skipped.
    static func split(_ list: String) -> [MountOptionItem] {
        var items: [MountOptionItem] = []
        var current = ""
        var escaping = false
        func finish() {
            defer { current = "" }
            guard !current.isEmpty else { return }
            if let equals = current.firstIndex(of: "=") {
                items.append(MountOptionItem(key: String(current[..<equals]), value: String(current[current.index(after: equals)...])))
            } else {
                items.append(MountOptionItem(key: current, value: nil))
            }
        }
        for character in list {
            if escaping {
                current.append(character)
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else if character == "," {
                finish()
            } else {
                current.append(character)
            }
        }
        if escaping { current.append("\\") }  // a trailing backslash stands for itself
        finish()
        return items
    }
}
