import Foundation
import SystemPackage
import Testing
@testable import SlabFS

/// SOURCE, MOUNTPOINT and /dev/fuse, checked against real directories under /tmp.
@Suite struct OptionsPathTests {
    @Test("paths are made absolute and symlink-free, so they survive the daemon's chdir to /")
    func canonicalPaths() throws {
        let scratch = try OptionsScratch()
        try FileManager.default.createSymbolicLink(atPath: scratch.root + "/link", withDestinationPath: scratch.source)
        let configuration = try parseMount(MountArguments(source: scratch.root + "/link/", mountpoint: scratch.root + "/./mnt"))
        let root = try #require(realpathString(scratch.root))
        #expect(configuration.source == root + "/source")
        #expect(configuration.mountpoint == root + "/mnt")
        #expect(configuration.fileSystemName == configuration.source)
    }

    @Test("a missing SOURCE or MOUNTPOINT is refused, with the usage")
    func missingArguments() throws {
        let noSource = mountRefusal(MountArguments())
        #expect(noSource?.problem == .missingSource)
        #expect(noSource?.message.contains("usage: slabfs SOURCE MOUNTPOINT") == true)
        #expect(mountRefusal(MountArguments(source: ""))?.problem == .missingSource)
        let noMountpoint = mountRefusal(MountArguments(source: "/tmp"))
        #expect(noMountpoint?.problem == .missingMountpoint)
        #expect(noMountpoint?.message.contains("missing MOUNTPOINT") == true)
    }

    @Test("a SOURCE that does not exist, or is not a directory, is refused")
    func badSource() throws {
        let scratch = try OptionsScratch()
        let missing = mountRefusal(MountArguments(source: scratch.root + "/nope", mountpoint: scratch.mountpoint))
        #expect(missing?.problem == .sourceInaccessible)
        #expect(missing?.message == "source '\(scratch.root)/nope' does not exist")
        let file = scratch.file("plain")
        let notDirectory = mountRefusal(MountArguments(source: file, mountpoint: scratch.mountpoint))
        #expect(notDirectory?.problem == .sourceNotDirectory)
        #expect(notDirectory?.message == "source '\(file)' is not a directory")
        #expect(mountRefusal(MountArguments(source: file + "/below", mountpoint: scratch.mountpoint))?.problem == .sourceInaccessible)
    }

    @Test("a MOUNTPOINT that does not exist, or is not a directory, is refused")
    func badMountpoint() throws {
        let scratch = try OptionsScratch()
        #expect(mountRefusal(MountArguments(source: scratch.source, mountpoint: scratch.root + "/nope"))?.problem == .mountpointInaccessible)
        let file = scratch.file("plain")
        let error = mountRefusal(MountArguments(source: scratch.source, mountpoint: file))
        #expect(error?.problem == .mountpointNotDirectory)
        #expect(error?.message.contains("is not a directory") == true)
    }

    @Test("a busy mountpoint is refused", arguments: ["/proc", "/", "/dev"])
    func busyMountpoint(path: String) throws {
        let scratch = try OptionsScratch()
        let error = mountRefusal(MountArguments(source: scratch.source, mountpoint: path))
        #expect(error?.problem == .mountpointBusy)
        #expect(error?.message.contains("already a mount point") == true)
    }

    @Test("a mountpoint listed in mountinfo is busy even on its parent's device (a bind mount)")
    func bindMountIsBusy() throws {
        let scratch = try OptionsScratch()
        let mountpoint = try #require(realpathString(scratch.mountpoint))
        var probe = MountProbe.forTests
        probe.mountPoints = { ["/", mountpoint] }
        #expect(mountRefusal(MountArguments(source: scratch.source, mountpoint: scratch.mountpoint), probe: probe)?.problem == .mountpointBusy)
    }

    @Test("a mountpoint on another device than its parent is busy even when mountinfo is unreadable")
    func otherDeviceIsBusy() throws {
        let scratch = try OptionsScratch()
        let mountpoint = try #require(realpathString(scratch.mountpoint))
        var probe = MountProbe.forTests
        probe.mountPoints = { nil }
        let real = probe.status
        probe.status = { path in
            real(path).map { status in
                var status = status
                if path == mountpoint { status.device &+= 1 }
                return status
            }
        }
        #expect(mountRefusal(MountArguments(source: scratch.source, mountpoint: scratch.mountpoint), probe: probe)?.problem == .mountpointBusy)
    }

    @Test("a dead FUSE mount (ENOTCONN) is reported as busy, with the fix")
    func deadFuseMount() throws {
        let scratch = try OptionsScratch()
        var probe = MountProbe.forTests
        let real = probe.status
        probe.status = { path in path.hasSuffix("/mnt") ? .failure(Errno(rawValue: ENOTCONN)) : real(path) }
        let error = mountRefusal(MountArguments(source: scratch.source, mountpoint: scratch.mountpoint), probe: probe)
        #expect(error?.problem == .mountpointBusy)
        #expect(error?.message.contains("fusermount3 -u") == true)
    }

    @Test("a mountpoint inside the source is refused; mounting over the source itself is allowed")
    func mountpointInsideSource() throws {
        let scratch = try OptionsScratch()
        let inner = try scratch.directory("source/deeper/mnt")
        let error = mountRefusal(MountArguments(source: scratch.source, mountpoint: inner))
        #expect(error?.problem == .mountpointInsideSource)
        let sibling = try scratch.directory("sourcefoo")  // shares a prefix, is not inside
        #expect(try parseMount(MountArguments(source: scratch.source, mountpoint: sibling)).mountpoint.hasSuffix("/sourcefoo"))
        #expect(try parseMount(MountArguments(source: scratch.source, mountpoint: scratch.source)).mountpoint.hasSuffix("/source"))
    }

    @Test("no /dev/fuse is refused, with a hint to load the module")
    func noFuseDevice() throws {
        let scratch = try OptionsScratch()
        let error = mountRefusal(scratch.arguments(), probe: .system.withFuseDevice(Errno(rawValue: ENOENT)))
        #expect(error?.problem == .fuseDeviceUnavailable)
        #expect(error?.message.contains("modprobe fuse") == true)
        #expect(error?.exitCode == 69)
        let denied = mountRefusal(scratch.arguments(), probe: .system.withFuseDevice(Errno(rawValue: EACCES)))
        #expect(denied?.message.contains("cannot open /dev/fuse read-write") == true)
    }

    @Test("values are checked before the filesystem, so a typo is reported even with bad paths")
    func valuesFirst() {
        let error = mountRefusal(MountArguments(source: "/nonexistent", mountpoint: "/nonexistent", mountOptions: ["bogus"]))
        #expect(error?.problem == .unknownOption)
    }

    @Test("/dev/fd/N from mount.fuse3's drop_privileges is taken when N is open")
    func preopenedDevice() throws {
        let scratch = try OptionsScratch()
        var probe = MountProbe.system.withFuseDevice(Errno(rawValue: ENOENT))  // not consulted
        probe.isOpenDescriptor = { $0 == 7 }
        let configuration = try MountConfiguration.parse(MountArguments(source: scratch.source, mountpoint: "/dev/fd/7"), probe: probe)
        #expect(configuration.mountpoint == "/dev/fd/7")
        let error = mountRefusal(MountArguments(source: scratch.source, mountpoint: "/dev/fd/8"), probe: probe)
        #expect(error?.problem == .badFileDescriptor)
    }

    @Test("a path with a newline cannot split the error message")
    func controlCharactersQuoted() throws {
        let scratch = try OptionsScratch()
        let error = mountRefusal(MountArguments(source: scratch.root + "/bad\nname", mountpoint: scratch.mountpoint))
        #expect(error?.message.contains("bad\\nname") == true)
    }

    @Test("mountinfo's mount points are read with octal escapes decoded")
    func mountInfoParsing() {
        let text = """
            22 27 0:21 / /proc rw,relatime - proc proc rw
            36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw
            37 35 98:0 / /odd\\134name\\012x rw - tmpfs tmpfs rw
            40 35 98:0 / /not\\9escape rw - tmpfs tmpfs rw
            short line
            """
        #expect(parseMountInfo(text) == ["/proc", "/mnt/with space", "/odd\\name\nx", "/not\\9escape"])
        #expect(MountProbe.system.mountPoints()?.contains("/proc") == true)
    }
}

private func realpathString(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}
