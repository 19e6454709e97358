#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

extension MountConfiguration {
    /// One line of usage, appended to "missing SOURCE"-style errors.
    public static let usage = "usage: slabfs SOURCE MOUNTPOINT [-o OPTIONS] [-f] [-d] [-s]; see slabfs --help"

    /// Turns a mount command line into a configuration, or says (in one line)
    /// why it cannot be mounted. Pure apart from `probe`: the values are
    /// checked first, then SOURCE, MOUNTPOINT and /dev/fuse through the probe.
    ///
    /// Order of precedence: defaults, then each `-o` item in order (the last
    /// wins, as in mount(8)), then the long options, then `-f -d -s` and
    /// `--allow-other`, which only switch things on.
    public static func parse(_ arguments: MountArguments, probe: MountProbe = .system) throws(MountOptionError) -> MountConfiguration {
        guard let source = arguments.source, !source.isEmpty else {
            throw MountOptionError(.missingSource, "missing SOURCE and MOUNTPOINT (\(usage))")
        }
        guard let mountpoint = arguments.mountpoint, !mountpoint.isEmpty else {
            throw MountOptionError(.missingMountpoint, "missing MOUNTPOINT after SOURCE \(quoted(source)) (\(usage))")
        }

        var configuration = MountConfiguration(source: source, mountpoint: mountpoint)
        var explicitFileSystemName: String?
        for list in arguments.mountOptions {
            for item in MountOptionItem.split(list) {
                try configuration.apply(item, fileSystemName: &explicitFileSystemName)
            }
        }
        for (setting, value) in arguments.longOptions {
            if let reason = setting.apply(value, to: &configuration) {
                throw MountOptionError(.invalidValue, "invalid \(setting.noun) \(quoted(value)) in \(setting.longFlag): \(reason)")
            }
        }
        configuration.foreground = configuration.foreground || arguments.foreground || arguments.debug
        configuration.debug = configuration.debug || arguments.debug
        configuration.singleThreaded = arguments.singleThreaded
        if arguments.singleThreaded { configuration.threads = 1 }  // -s wins over --threads
        configuration.allowOther = configuration.allowOther || arguments.allowOther
        try configuration.checkCombination()

        configuration.source = try checkedSource(source, probe: probe)
        configuration.fileSystemName = explicitFileSystemName ?? configuration.source
        if let descriptor = preopenedDescriptor(mountpoint) {
            // mount.fuse3's drop_privileges: it mounted already and passes the
            // /dev/fuse descriptor; libfuse takes "/dev/fd/N" as that.
            guard probe.isOpenDescriptor(descriptor) else {
                throw MountOptionError(.badFileDescriptor, "mountpoint \(quoted(mountpoint)) names file descriptor \(descriptor), which is not open")
            }
            return configuration
        }
        configuration.mountpoint = try checkedMountpoint(mountpoint, source: configuration.source, probe: probe)
        if let failure = probe.openFuseDevice() {
            throw MountOptionError(.fuseDeviceUnavailable, fuseDeviceMessage(failure))
        }
        return configuration
    }

    /// Applies one `-o` item.
    private mutating func apply(_ item: MountOptionItem, fileSystemName: inout String?) throws(MountOptionError) {
        let given = "-o \(item.text)"
        guard let option = MountOption.classify(key: item.key, hasValue: item.value != nil) else {
            throw MountOptionError(.unknownOption, "unknown mount option \(quoted(item.key)) in \(quoted(given)); see slabfs --help")
        }
        switch (option.takesValue, item.value) {
        case (true, nil):
            throw MountOptionError(.missingOptionValue, "mount option \(quoted(item.key)) needs a value (\(item.key)=\(Self.valueShape(option)))")
        case (false, .some):
            throw MountOptionError(.unexpectedOptionValue, "mount option \(quoted(item.key)) takes no value, but got \(quoted(given))")
        default: break
        }
        let value = item.value ?? ""
        switch option {
        case .setting(let setting):
            if let reason = setting.apply(value, to: &self) {
                throw MountOptionError(.invalidValue, "invalid \(setting.noun) \(quoted(value)) in -o \(setting.optionKey): \(reason)")
            }
        case .allowOther: allowOther = true
        case .debug: debug = true; foreground = true
        case .defaultPermissions: break
        case .fileSystemName, .subtype:
            guard !value.isEmpty else {
                throw MountOptionError(.missingOptionValue, "mount option \(quoted(item.key)) needs a non-empty value")
            }
            if option == .subtype { subtype = value } else { fileSystemName = value }
        case .readOnly(let on):
            readOnly = on
            libfuseOptions.append(item.text)
        case .passThrough: libfuseOptions.append(item.text)
        case .ignored: break
        case .unsupported(let why):
            throw MountOptionError(.unsupportedOption, "mount option \(quoted(item.key)) \(why)")
        }
    }

    private static func valueShape(_ option: MountOption) -> String {
        if case .setting(let setting) = option { return setting.valueShape }
        return "NAME"
    }

    /// Rules that involve more than one setting.
    private func checkCombination() throws(MountOptionError) {
        // The dentry and inode caches need at least one slab each.
        let minimum = 2 * pageSizeBytes
        guard cacheSizeBytes >= minimum else {
            throw MountOptionError(.conflictingValues,
                "cache size \(ValueParser.describeBytes(cacheSizeBytes)) is less than two slabs of the page size \(ValueParser.describeBytes(pageSizeBytes)); raise cache_size to at least \(ValueParser.describeBytes(minimum))")
        }
    }

    /// `N` when `path` is `/dev/fd/N`.
    private static func preopenedDescriptor(_ path: String) -> Int32? {
        let prefix = "/dev/fd/"
        guard path.hasPrefix(prefix) else { return nil }
        let digits = path.dropFirst(prefix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int32(digits)
    }

    private static func checkedSource(_ path: String, probe: MountProbe) throws(MountOptionError) -> String {
        let status: PathStatus
        switch probe.status(path) {
        case .success(let found): status = found
        case .failure(let error):
            throw MountOptionError(.sourceInaccessible, "source \(quoted(path)) \(accessProblem(error))")
        }
        guard status.isDirectory else {
            throw MountOptionError(.sourceNotDirectory, "source \(quoted(path)) is not a directory")
        }
        return try canonical(path, role: "source", problem: .sourceInaccessible, probe: probe)
    }

    private static func checkedMountpoint(_ path: String, source: String, probe: MountProbe) throws(MountOptionError) -> String {
        let status: PathStatus
        switch probe.status(path) {
        case .success(let found): status = found
        case .failure(let error) where error.rawValue == ENOTCONN:
            // A FUSE daemon died without unmounting: the mount is still there.
            throw MountOptionError(.mountpointBusy,
                "mountpoint \(quoted(path)) is a dead FUSE mount (\(error)); unmount it first: fusermount3 -u \(quoted(path))")
        case .failure(let error):
            throw MountOptionError(.mountpointInaccessible, "mountpoint \(quoted(path)) \(accessProblem(error))")
        }
        guard status.isDirectory else {
            throw MountOptionError(.mountpointNotDirectory, "mountpoint \(quoted(path)) is not a directory")
        }
        let resolved = try canonical(path, role: "mountpoint", problem: .mountpointInaccessible, probe: probe)
        if isMountPoint(resolved, status: status, probe: probe) {
            throw MountOptionError(.mountpointBusy,
                "mountpoint \(quoted(resolved)) is already a mount point; unmount it first (umount or fusermount3 -u)")
        }
        // Mounting inside the source makes the daemon's own lookups of the
        // mountpoint enter the mount, that is, call back into the daemon.
        // Mounting over the source itself is fine: the source is opened first.
        if source == "/" || resolved.hasPrefix(source + "/") {
            throw MountOptionError(.mountpointInsideSource,
                "mountpoint \(quoted(resolved)) is inside source \(quoted(source)); slabfs would serve requests from itself")
        }
        return resolved
    }

    /// A mount root: listed in mountinfo (this also finds bind mounts of the
    /// same filesystem), or on another device than its parent, or "/".
    private static func isMountPoint(_ path: String, status: PathStatus, probe: MountProbe) -> Bool {
        if path == "/" { return true }
        if probe.mountPoints()?.contains(path) == true { return true }
        let parent = path.lastIndex(of: "/").map { index in index == path.startIndex ? "/" : String(path[..<index]) } ?? "/"
        if case .success(let parentStatus) = probe.status(parent), parentStatus.device != status.device { return true }
        return false
    }

    private static func canonical(_ path: String, role: String, problem: MountOptionError.Problem, probe: MountProbe) throws(MountOptionError) -> String {
        switch probe.canonicalPath(path) {
        case .success(let resolved): return resolved
        case .failure(let error): throw MountOptionError(problem, "\(role) \(quoted(path)) \(accessProblem(error))")
        }
    }

    private static func accessProblem(_ error: Errno) -> String {
        switch error.rawValue {
        case ENOENT: "does not exist"
        case ENOTDIR: "does not exist (a component of the path is not a directory)"
        default: "cannot be accessed: \(error)"
        }
    }

    private static func fuseDeviceMessage(_ error: Errno) -> String {
        switch error.rawValue {
        case ENOENT, ENODEV, ENXIO: "no FUSE device: /dev/fuse cannot be opened (\(error)); load the module: modprobe fuse"
        default: "cannot open /dev/fuse read-write: \(error)"
        }
    }
}
