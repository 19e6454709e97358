import Testing
@testable import SlabFS

/// What libfuse receives: `MountConfiguration.fuseArguments`.
@Suite struct OptionsFuseArgumentsTests {
    @Test("default_permissions is always passed to libfuse")
    func defaultPermissionsAlways() throws {
        let scratch = try OptionsScratch()
        for options in [[], ["allow_other"], ["default_permissions"], ["ro,noatime"]] {
            let arguments = try parseMount(MountArguments(source: scratch.source, mountpoint: scratch.mountpoint, mountOptions: options)).fuseArguments
            #expect(arguments.count >= 3)
            #expect(arguments[1] == "-o")
            let list = arguments[2].split(separator: ",")
            #expect(list.first == "default_permissions")
            #expect(list.filter { $0 == "default_permissions" }.count == 1)
        }
        // Even a hand-built configuration cannot lose it.
        #expect(MountConfiguration(source: "/a", mountpoint: "/b").fuseArguments[2].hasPrefix("default_permissions,"))
    }

    @Test("libfuse gets the program name, fsname=SOURCE and subtype=slabfs; the mountpoint stays out")
    func shape() throws {
        let scratch = try OptionsScratch()
        let configuration = try parseMount(scratch.arguments())
        #expect(configuration.fuseArguments == ["slabfs", "-o", "default_permissions,fsname=\(configuration.source),subtype=slabfs"])
        #expect(!configuration.fuseArguments.contains(configuration.mountpoint))
    }

    @Test("allow_other, ro and pass-through options follow; -d only when debugging; -f and -s never")
    func optionalParts() throws {
        let scratch = try OptionsScratch()
        var arguments = scratch.arguments("ro,noatime,fsname=backup,subtype=slabfs2")
        arguments.allowOther = true
        arguments.debug = true
        arguments.singleThreaded = true
        arguments.foreground = true
        let fuse = try parseMount(arguments).fuseArguments
        #expect(fuse == ["slabfs", "-o", "default_permissions,fsname=backup,subtype=slabfs2,allow_other,ro,noatime", "-d"])
    }

    @Test("commas and backslashes in values are escaped the way libfuse splits -o")
    func escaping() {
        var configuration = MountConfiguration(source: "/srv/a,b", mountpoint: "/mnt")
        configuration.fileSystemName = "/srv/a,b\\c"
        #expect(configuration.fuseArguments[2] == "default_permissions,fsname=/srv/a\\,b\\\\c,subtype=slabfs")
        // And our own -o splitting reads it back.
        let items = MountOptionItem.split(configuration.fuseArguments[2])
        #expect(items.map(\.text) == ["default_permissions", "fsname=/srv/a,b\\c", "subtype=slabfs"])
    }

    @Test("the summary shows every setting with units, and the libfuse argv")
    func summary() throws {
        let scratch = try OptionsScratch()
        let summary = try parseMount(scratch.arguments("cache_size=32M,kernel_cache_limit=0,psi_threshold_us=0")).summary
        #expect(summary.contains("32 MiB (33554432 bytes, 8192 slabs)"))
        #expect(summary.contains("kernel cache limit: unlimited"))
        #expect(summary.contains("PSI threshold:      off"))
        #expect(summary.contains("libfuse argv:       slabfs -o default_permissions,"))
        #expect(MountConfiguration.shellQuoted("it's") == "'it'\\''s'")
    }
}
