import Testing
@testable import SlabFS

/// `-o` lists: what mount(8), mount.fuse3 and fstab send us.
@Suite struct OptionsMountOptionTests {
    @Test("every setting is accepted as -o key=value, comma-separated, across repeated -o")
    func allSettingsAsMountOptions() throws {
        let scratch = try OptionsScratch()
        let configuration = try parseMount(scratch.arguments(
            "cache_size=64M,eviction=lru,migrate=off,page_size=8192",
            "kernel_cache_limit=1000,entry_timeout=2,attr_timeout=2",
            "negative_limit=100,psi_threshold_us=50000"))
        #expect(configuration.cacheSizeBytes == 64 << 20)
        #expect(configuration.eviction == .lru)
        #expect(!configuration.migrate)
        #expect(configuration.pageSizeBytes == 8192)
        #expect(configuration.kernelCacheLimit == 1000)
        #expect(configuration.entryTimeoutSeconds == 2 && configuration.attrTimeoutSeconds == 2)
        #expect(configuration.negativeDentryLimit == 100)
        #expect(configuration.psiThresholdMicroseconds == 50_000)
    }

    @Test("mount.fuse3's generic options are accepted")
    func genericOptions() throws {
        let scratch = try OptionsScratch()
        // What `mount -t fuse.slabfs ... -o user,noatime` hands the helper, and more.
        let configuration = try parseMount(scratch.arguments(
            "rw,nosuid,nodev,noexec,dev,suid,exec,noatime,relatime,default_permissions",
            "_netdev,auto,noauto,user,nouser,users,nofail,defaults,fsname=data,subtype=slabfs",
            "sync,async,dirsync,atime,diratime,nodiratime,strictatime,lazytime,auto_unmount"))
        #expect(configuration.fileSystemName == "data")
        #expect(!configuration.readOnly)
    }

    @Test("generic options libfuse understands are passed through in order; mount(8)'s own are dropped")
    func passThrough() throws {
        let scratch = try OptionsScratch()
        let configuration = try parseMount(scratch.arguments(
            "rw,_netdev,nosuid,nodev,auto,noatime", "user,nofail,x-systemd.automount,comment=backup,user=alice,dev,suid"))
        #expect(configuration.libfuseOptions == ["rw", "nosuid", "nodev", "noatime", "user=alice", "dev", "suid"])
    }

    @Test("ro is remembered and passed to libfuse; the last of ro and rw wins")
    func readOnly() throws {
        let scratch = try OptionsScratch()
        let readOnly = try parseMount(scratch.arguments("ro"))
        #expect(readOnly.readOnly && readOnly.libfuseOptions == ["ro"])
        #expect(try !parseMount(scratch.arguments("ro", "rw")).readOnly)
        #expect(try parseMount(scratch.arguments("rw,ro")).readOnly)
    }

    @Test("allow_other works as -o and as --allow-other")
    func allowOther() throws {
        let scratch = try OptionsScratch()
        #expect(try parseMount(scratch.arguments("allow_other")).allowOther)
        var arguments = scratch.arguments()
        arguments.allowOther = true
        #expect(try parseMount(arguments).allowOther)
        #expect(try !parseMount(scratch.arguments()).allowOther)
    }

    @Test("an unknown -o option is rejected with a one-line error naming it")
    func unknownOption() throws {
        let scratch = try OptionsScratch()
        let error = mountRefusal(scratch.arguments("noatime,cache_sise=64M"))
        #expect(error?.problem == .unknownOption)
        #expect(error?.message == "unknown mount option 'cache_sise' in '-o cache_sise=64M'; see slabfs --help")
    }

    @Test("libfuse options slabfs does not support are unknown, not silently passed",
          arguments: ["kernel_cache", "negative_timeout=1", "max_read=4096", "uid=0", "umask=022", "blkdev", "nonempty", "dev=1"])
    func unsupportedLibfuseOptions(option: String) throws {
        try expectRefusal(ofOption: option, .unknownOption)
    }

    @Test("mount.fuse3's own options and allow_root are refused with the reason",
          arguments: [("setuid=nobody", "mount.fuse3"), ("drop_privileges", "mount.fuse3"), ("allow_root", "allow_other")])
    func refusedKnownOptions(option: String, hint: String) throws {
        try expectRefusal(ofOption: option, .unsupportedOption, mentioning: hint)
    }

    @Test("a setting without a value, or a flag with one, is refused")
    func valueShape() throws {
        let scratch = try OptionsScratch()
        expectRefusal(scratch.arguments("cache_size"), .missingOptionValue, mentioning: "cache_size=SIZE")
        expectRefusal(scratch.arguments("allow_other=1"), .unexpectedOptionValue)
        expectRefusal(scratch.arguments("ro=yes"), .unexpectedOptionValue)
        expectRefusal(scratch.arguments("fsname="), .missingOptionValue)
    }

    @Test("-o lists split at commas; a backslash escapes; empty items are skipped")
    func splitting() {
        let items = MountOptionItem.split(",ro,,fsname=a\\,b,x=1=2,trailing\\")
        #expect(items.map(\.key) == ["ro", "fsname", "x", "trailing\\"])
        #expect(items.map(\.value) == [nil, "a,b", "1=2", nil])
        #expect(MountOptionItem.split("").isEmpty)
    }
}
