import DCache
import Foundation
import Glibc
@testable import SlabFS
import SystemPackage
import Testing

/// The mounted filesystem against its backing directory: each test mounts
/// the built `slabfs -f` over a scratch directory, acts through the mount
/// and checks the backing directory (or the other way round).
@Suite(.enabled(if: canMount))
struct MountOperationsTests {
    @Test("a file created and written through the mount is the backing file, and reads back")
    func createWriteRead() throws {
        try withMount { mount in
            try writeFile(mount.mounted("note.txt"), "written through slabfs\n")
            #expect(try readFile(mount.backing("note.txt")) == "written through slabfs\n")
            try writeFile(mount.backing("direct.txt"), "written to the backing directory")
            #expect(try readFile(mount.mounted("direct.txt")) == "written to the backing directory")
            let stat = try fileStatus(mount.mounted("note.txt")).get()
            #expect(stat.st_size == 23)
            #expect(stat.st_ino == (try fileStatus(mount.backing("note.txt")).get()).st_ino)
            // Appending grows it, and stat sees the new size at once.
            let handle = try #require(FileHandle(forWritingAtPath: mount.mounted("note.txt")))
            handle.seekToEndOfFile()
            handle.write(Data("more".utf8))
            handle.closeFile()
            #expect((try fileStatus(mount.mounted("note.txt")).get()).st_size == 27)
        }
    }

    @Test("readdir lists the backing directory; mkdir and rmdir change it; rmdir of a full directory is ENOTEMPTY")
    func directories() throws {
        try withMount { mount in
            for name in ["a", "b", "c"] { try writeFile(mount.backing(name), name) }
            try FileManager.default.createDirectory(atPath: mount.mounted("sub"), withIntermediateDirectories: false)
            #expect(try FileManager.default.contentsOfDirectory(atPath: mount.mounted("")).sorted() == ["a", "b", "c", "sub"])
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: mount.backing("sub"), isDirectory: &isDirectory) && isDirectory.boolValue)
            try writeFile(mount.mounted("sub/inner"), "x")
            #expect(rmdir(mount.mounted("sub")) == -1 && errno == ENOTEMPTY)
            #expect(unlink(mount.mounted("sub/inner")) == 0)
            #expect(rmdir(mount.mounted("sub")) == 0)
            #expect(!FileManager.default.fileExists(atPath: mount.backing("sub")))
            #expect(fileStatus(mount.mounted("sub")).failureErrno == ENOENT)
            // A listing larger than one reply buffer, read twice (the second
            // time possibly from the kernel's cache), is complete both times.
            let names = (0..<600).map { "file-with-a-longish-name-\($0)" }
            for name in names { try writeFile(mount.backing("sub2-" + name), "") }
            for _ in 0..<2 {
                let listed = try FileManager.default.contentsOfDirectory(atPath: mount.mounted(""))
                #expect(Set(listed).isSuperset(of: names.map { "sub2-" + $0 }))
                #expect(listed.count == 603)
            }
        }
    }

    @Test("listings are complete whatever the kernel holds: after a run of held entries READDIRPLUS gives no attributes, plain READDIR goes on")
    func listingsOfHeldEntries() throws {
        try withMount { mount in
            // Sizes tell the entries apart: attributes sent for the wrong name show.
            for directory in ["all", "half", "none"] {
                try FileManager.default.createDirectory(atPath: mount.backing(directory), withIntermediateDirectories: false)
                for index in 0..<300 { try writeFile(mount.backing("\(directory)/f\(index)"), String(repeating: "x", count: index)) }
            }
            // The kernel holds every entry of "all", every other one of "half", none of "none".
            for index in 0..<300 { #expect(fileStatus(mount.mounted("all/f\(index)")).failureErrno == 0) }
            for index in stride(from: 0, to: 300, by: 2) { #expect(fileStatus(mount.mounted("half/f\(index)")).failureErrno == 0) }
            for directory in ["all", "half", "none"] {
                let listed = try FileManager.default.contentsOfDirectory(atPath: mount.mounted(directory))
                #expect(listed.count == 300, "\(directory)")
                #expect(Set(listed) == Set((0..<300).map { "f\($0)" }), "\(directory)")
                for index in 0..<300 {
                    #expect((try? fileStatus(mount.mounted("\(directory)/f\(index)")).get().st_size) == off_t(index),
                            "\(directory)/f\(index)")
                }
            }
            let held = try statistics(mount).kernelHeldInodes
            #expect(held >= 900, "the kernel holds \(held) inodes after stat of 900 files")
        }
    }

    @Test("rename moves an entry; RENAME_NOREPLACE refuses an existing target; RENAME_EXCHANGE swaps two")
    func renames() throws {
        try withMount { mount in
            try writeFile(mount.mounted("one"), "1")
            try writeFile(mount.mounted("two"), "2")
            try FileManager.default.createDirectory(atPath: mount.mounted("dir"), withIntermediateDirectories: false)
            #expect(rename(mount.mounted("one"), mount.mounted("dir/uno")) == 0)
            #expect(try readFile(mount.backing("dir/uno")) == "1")
            #expect(fileStatus(mount.mounted("one")).failureErrno == ENOENT)

            let root = try FileDescriptor.open(mount.mountpoint, .readOnly, options: .directory)
            defer { try? root.close() }
            let dir = try FileDescriptor.open(mount.mounted("dir"), .readOnly, options: .directory)
            defer { try? dir.close() }
            #expect(throws: Errno.fileExists) { try root.rename("two", to: dir, as: "uno", flags: .noReplace) }
            #expect(try readFile(mount.backing("dir/uno")) == "1")
            try root.rename("two", to: dir, as: "uno", flags: .exchange)
            #expect(try readFile(mount.mounted("dir/uno")) == "2")
            #expect(try readFile(mount.mounted("two")) == "1")
            #expect(try readFile(mount.backing("two")) == "1")
            // Replacing rename: the target's old file is gone.
            #expect(rename(mount.mounted("two"), mount.mounted("dir/uno")) == 0)
            #expect(try readFile(mount.mounted("dir/uno")) == "1")
            #expect(try FileManager.default.contentsOfDirectory(atPath: mount.backing("")).sorted() == ["dir"])
        }
    }

    @Test("hard links share an inode and count links; symlinks store and read back their target")
    func links() throws {
        try withMount { mount in
            try writeFile(mount.mounted("file"), "data")
            #expect(link(mount.mounted("file"), mount.mounted("second")) == 0)
            let first = try fileStatus(mount.mounted("file")).get(), second = try fileStatus(mount.mounted("second")).get()
            #expect(first.st_ino == second.st_ino)
            #expect(first.st_nlink == 2)
            #expect((try fileStatus(mount.backing("file")).get()).st_nlink == 2)
            #expect(unlink(mount.mounted("second")) == 0)
            #expect((try fileStatus(mount.mounted("file")).get()).st_nlink == 1)

            #expect(symlink("../outside/target", mount.mounted("link")) == 0)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: mount.backing("link")) == "../outside/target")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: mount.mounted("link")) == "../outside/target")
            #expect((try fileStatus(mount.mounted("link")).get()).st_mode & S_IFMT == S_IFLNK)
            // A fifo made through the mount is a fifo in the backing directory.
            #expect(mkfifo(mount.mounted("fifo"), 0o640) == 0)
            #expect((try fileStatus(mount.backing("fifo")).get()).st_mode & S_IFMT == S_IFIFO)
            #expect((try fileStatus(mount.backing("fifo")).get()).st_mode & 0o777 == 0o640)
        }
    }

    @Test("chmod, chown, truncate and utimes reach the backing file; UTIME_OMIT leaves a time alone")
    func attributes() throws {
        try withMount { mount in
            try writeFile(mount.mounted("file"), "0123456789")
            #expect(chmod(mount.mounted("file"), 0o640) == 0)
            #expect((try fileStatus(mount.backing("file")).get()).st_mode & 0o7777 == 0o640)
            #expect(chown(mount.mounted("file"), 1234, 5678) == 0)
            let owned = try fileStatus(mount.backing("file")).get()
            #expect(owned.st_uid == 1234 && owned.st_gid == 5678)
            #expect(truncate(mount.mounted("file"), 4) == 0)
            #expect(try readFile(mount.backing("file")) == "0123")
            #expect((try fileStatus(mount.mounted("file")).get()).st_size == 4)

            let file = try FileDescriptor.open(mount.mounted("file"), .readWrite)
            defer { try? file.close() }
            try file.setTimes(access: .to(seconds: 1_000_000_000, nanoseconds: 5), modification: .to(seconds: 2_000_000_000, nanoseconds: 0))
            try file.setTimes(access: .unchanged, modification: .to(seconds: 1_500_000_000, nanoseconds: 0))
            let times = try fileStatus(mount.backing("file")).get()
            #expect(times.st_atim.tv_sec == 1_000_000_000 && times.st_atim.tv_nsec == 5)
            #expect(times.st_mtim.tv_sec == 1_500_000_000)
            try file.setTimes(access: .now, modification: .unchanged)
            let now = try fileStatus(mount.mounted("file")).get()
            #expect(abs(now.st_atim.tv_sec - time(nil)) < 60)
            #expect(now.st_mtim.tv_sec == 1_500_000_000)
        }
    }

    @Test("extended attributes round-trip; names under user.slabfs. never reach a backing file")
    func extendedAttributes() throws {
        try withMount { mount in
            try writeFile(mount.mounted("file"), "x")
            let file = try FileDescriptor.open(mount.mounted("file"), .readOnly)
            defer { try? file.close() }
            try file.setExtendedAttribute("user.color", to: Array("blue".utf8))
            #expect(try file.extendedAttribute("user.color") == Array("blue".utf8))
            let backing = try FileDescriptor.open(mount.backing("file"), .readOnly)
            defer { try? backing.close() }
            #expect(try backing.extendedAttribute("user.color") == Array("blue".utf8))
            #expect(try file.extendedAttributeNames().contains("user.color"))
            try file.removeExtendedAttribute("user.color")
            #expect(throws: Errno.noData) { try backing.extendedAttribute("user.color") }

            // The reserved prefix: refused on set, absent on get and list, even
            // when the backing file carries such an attribute itself.
            #expect(throws: Errno.invalidArgument) { try file.setExtendedAttribute("user.slabfs.x", to: Array("1".utf8)) }
            #expect(throws: Errno.noData) { try backing.extendedAttribute("user.slabfs.x") }
            try backing.setExtendedAttribute("user.slabfs.planted", to: Array("secret".utf8))
            #expect(throws: Errno.noData) { try file.extendedAttribute("user.slabfs.planted") }
            #expect(!(try file.extendedAttributeNames()).contains { $0.hasPrefix("user.slabfs.") })
            #expect(throws: Errno.invalidArgument) { try file.removeExtendedAttribute("user.slabfs.planted") }
            #expect(try backing.extendedAttribute("user.slabfs.planted") == Array("secret".utf8))

            // While the kernel has a file or directory open, the calls go
            // through that open descriptor: by path too, and after the name is
            // gone.
            #expect(mkdir(mount.mounted("dir"), 0o755) == 0)
            let directory = try FileDescriptor.open(mount.mounted("dir"), .readOnly, options: .directory)
            defer { try? directory.close() }
            try atPath(mount.mounted("dir")) { try $0.setExtendedAttribute("user.kind", to: Array("dir".utf8)) }
            #expect(try directory.extendedAttribute("user.kind") == Array("dir".utf8))
            #expect(try atPath(mount.backing("dir")) { try $0.extendedAttribute("user.kind") } == Array("dir".utf8))
            try atPath(mount.mounted("file")) { try $0.setExtendedAttribute("user.size", to: Array("small".utf8)) }
            #expect(try atPath(mount.mounted("file")) { try $0.extendedAttribute("user.size") } == Array("small".utf8))
            #expect(unlink(mount.mounted("file")) == 0)
            #expect(try file.extendedAttribute("user.size") == Array("small".utf8))
            try file.removeExtendedAttribute("user.size")
            #expect(throws: Errno.noData) { try file.extendedAttribute("user.size") }
        }
    }

    /// Calls `body` with an O_PATH descriptor of `path`: its xattr calls go
    /// by path (through /proc), and the kernel opens no file for it.
    private func atPath<R>(_ path: String, _ body: (FileDescriptor) throws -> R) throws -> R {
        let descriptor = try FileDescriptor.open(path, .readOnly, options: .path)
        defer { try? descriptor.close() }
        return try body(descriptor)
    }

    @Test("a directory opens by its name only while the name leads to it: swapped behind the mount, it is still itself")
    func directoriesOpenByNameOnlyWhenItIsThem() throws {
        // Long timeouts and no events: the kernel keeps its dentries, so it
        // opens the directories it looked up before the swap.
        try withMount(["--coherence", "timeouts", "--entry-timeout", "60", "--attr-timeout", "60",
                      "--cache-timeout", "60"]) { mount in
            #expect(mkdir(mount.mounted("a"), 0o755) == 0 && mkdir(mount.mounted("b"), 0o755) == 0)
            try writeFile(mount.mounted("a/inA"), "")
            try writeFile(mount.mounted("b/inB"), "")
            // Behind the mount, "a" becomes the other directory.
            #expect(rename(mount.backing("a"), mount.backing("a2")) == 0)
            #expect(rename(mount.backing("b"), mount.backing("a")) == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: mount.mounted("a")) == ["inA"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: mount.mounted("b")) == ["inB"])
            // Renamed through the mount (its place is forgotten), then listed
            // and written under the new name.
            #expect(mkdir(mount.mounted("d"), 0o755) == 0)
            try writeFile(mount.mounted("d/inD"), "")
            #expect(rename(mount.mounted("d"), mount.mounted("e")) == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: mount.mounted("e")) == ["inD"])
            try writeFile(mount.mounted("e/more"), "")
            #expect(try FileManager.default.contentsOfDirectory(atPath: mount.backing("e")).sorted() == ["inD", "more"])
        }
    }

    @Test("statfs reports the backing filesystem's numbers")
    func statfs() throws {
        try withMount { mount in
            var mounted = statvfs(), backing = statvfs()
            #expect(statvfs(mount.mountpoint, &mounted) == 0)
            #expect(statvfs(mount.source, &backing) == 0)
            #expect(mounted.f_blocks == backing.f_blocks)
            #expect(mounted.f_bsize == backing.f_bsize)
            #expect(mounted.f_files == backing.f_files)
        }
    }

    @Test("a name longer than 255 bytes is ENAMETOOLONG; a missing one ENOENT")
    func badNames() throws {
        try withMount { mount in
            let long = String(repeating: "n", count: 256)
            #expect(fileStatus(mount.mounted(long)).failureErrno == ENAMETOOLONG)
            #expect(open(mount.mounted(long), O_CREAT | O_WRONLY, 0o644) == -1 && errno == ENAMETOOLONG)
            #expect(fileStatus(mount.mounted("missing")).failureErrno == ENOENT)
            #expect(fileStatus(mount.mounted(String(repeating: "n", count: 255))).failureErrno == ENOENT)
        }
    }

    @Test("changes made behind the mount's back show once the timeouts have passed")
    func coherence() throws {
        try withMount(["--entry-timeout", "0.2", "--attr-timeout", "0.2", "--cache-timeout", "0.2"]) { mount in
            try writeFile(mount.backing("file"), "old")
            #expect(try readFile(mount.mounted("file")) == "old")
            let before = try fileStatus(mount.mounted("file")).get()
            // Replaced by another file, then removed: each seen after a timeout.
            #expect(unlink(mount.backing("file")) == 0)
            try writeFile(mount.backing("file"), "a new file, longer")
            usleep(400_000)
            let after = try fileStatus(mount.mounted("file")).get()
            #expect(after.st_size == 18)
            #expect(try readFile(mount.mounted("file")) == "a new file, longer")
            _ = before
            #expect(unlink(mount.backing("file")) == 0)
            usleep(400_000)
            #expect(fileStatus(mount.mounted("file")).failureErrno == ENOENT)
            // And a name that was missing appears.
            try writeFile(mount.backing("late"), "here")
            usleep(400_000)
            #expect(try readFile(mount.mounted("late")) == "here")
        }
    }

    @Test("a file replaced behind the mount opens with its new content at once, within the cache timeout")
    func replacedBehind() throws {
        try withMount { mount in  // the default one-minute cache timeout
            try writeFile(mount.backing("edited"), "first")
            try writeFile(mount.backing("recreated"), "first")
            #expect(try readFile(mount.mounted("edited")) == "first")
            #expect(try readFile(mount.mounted("recreated")) == "first")
            // An editor's save: a new file renamed over the old one.
            try writeFile(mount.backing("edited.tmp"), "second")
            #expect(rename(mount.backing("edited.tmp"), mount.backing("edited")) == 0)
            // Removed and made again: ext4 may hand out the same inode number.
            #expect(unlink(mount.backing("recreated")) == 0)
            try writeFile(mount.backing("recreated"), "second")
            // Our handle of the old file is stale (ESTALE); the kernel looks the
            // path up again and we ask the backing directory.
            #expect(try readFile(mount.mounted("edited")) == "second")
            #expect(try readFile(mount.mounted("recreated")) == "second")
            // A directory removed and made again: its cached descriptor names
            // the removed one; a new file still lands in the new directory.
            #expect(mkdir(mount.mounted("dir"), 0o755) == 0)
            try writeFile(mount.mounted("dir/old"), "old")
            #expect(unlink(mount.backing("dir/old")) == 0 && rmdir(mount.backing("dir")) == 0)
            #expect(mkdir(mount.backing("dir"), 0o755) == 0)
            try writeFile(mount.mounted("dir/new"), "new")
            #expect(try readFile(mount.backing("dir/new")) == "new")
            // And a name made behind the mount in such a directory is found.
            #expect(mkdir(mount.mounted("other"), 0o755) == 0)
            #expect(fileStatus(mount.mounted("other/missing")).failureErrno == ENOENT)
            #expect(rmdir(mount.backing("other")) == 0 && mkdir(mount.backing("other"), 0o755) == 0)
            try writeFile(mount.backing("other/made"), "made")
            #expect(try readFile(mount.mounted("other/made")) == "made")
        }
    }

    @Test("control attributes on the root: slabinfo, stats, reclaim and compact; bad values are EINVAL")
    func controlAttributes() throws {
        try withMount { mount in
            for index in 0..<200 { try writeFile(mount.mounted("f\(index)"), "") }
            let root = try FileDescriptor.open(mount.mountpoint, .readOnly, options: .directory)
            defer { try? root.close() }
            let slabinfo = String(decoding: try root.extendedAttribute("user.slabfs.slabinfo"), as: UTF8.self)
            #expect(slabinfo.hasPrefix("slabinfo - version: 2.1"))
            #expect(slabinfo.contains("slabfs_inode"))
            let stats = try JSONDecoder().decode(MountStatistics.self, from: Data(try root.extendedAttribute("user.slabfs.stats")))
            // (The kernel may already have let go of some: memory pressure.)
            #expect(stats.cache[.inodesCreated] >= 200)
            #expect(stats.kernelHeldInodes <= stats.cache.inodes)
            #expect(stats.daemonRSSBytes > 0)
            #expect(stats.configuration["eviction"] == "page")
            let maps = try JSONDecoder().decode([FragmentationMap].self,
                                                from: Data(try root.extendedAttribute("user.slabfs.slabmap")))
            #expect(maps.map(\.cache) == ["slabfs_dentry", "slabfs_inode"])
            try root.setExtendedAttribute("user.slabfs.reclaim", to: Array("4".utf8))
            let report = try JSONSerialization.jsonObject(with: Data(try root.extendedAttribute("user.slabfs.reclaim"))) as? [String: Any]
            #expect(report?["pagesWanted"] as? Int == 4)
            #expect(report?["source"] as? String == "explicit")
            try root.setExtendedAttribute("user.slabfs.compact", to: Array("1".utf8))
            #expect(throws: Errno.invalidArgument) { try root.setExtendedAttribute("user.slabfs.reclaim", to: Array("-3".utf8)) }
            #expect(throws: Errno.invalidArgument) { try root.setExtendedAttribute("user.slabfs.reclaim", to: Array("lots".utf8)) }
            #expect(throws: Errno.invalidArgument) { try root.setExtendedAttribute("user.slabfs.compact", to: Array("2".utf8)) }
            #expect(throws: Errno.invalidArgument) { try root.setExtendedAttribute("user.slabfs.stats", to: Array("1".utf8)) }
            #expect(throws: Errno.invalidArgument) { try root.setExtendedAttribute("user.slabfs.unknown", to: Array("1".utf8)) }
            #expect(throws: Errno.noData) { try root.extendedAttribute("user.slabfs.unknown") }
            let names = try root.extendedAttributeNames()
            #expect(Set(names).isSuperset(of: ["user.slabfs.slabinfo", "user.slabfs.stats", "user.slabfs.slabmap"]))
            // slabfs stats reads the same attribute.
            let command = runProgram(try #require(mountTestBinary), ["stats", mount.mountpoint])
            #expect(command.status == 0, "\(command.output)")
            #expect(command.output.contains("slabfs_inode"))
            // Files and directories still work after reclaim and compaction.
            #expect(try FileManager.default.contentsOfDirectory(atPath: mount.mountpoint).count == 200)
            #expect((try fileStatus(mount.mounted("f17")).get()).st_size == 0)
        }
    }

    @Test("SIGTERM unmounts and the daemon exits with status 0")
    func signalUnmounts() throws {
        try withMount { mount in
            try writeFile(mount.mounted("file"), "x")
            #expect(kill(mount.pid, SIGTERM) == 0)
            #expect(mount.waitForExit() == 0, "\(mount.log)")
            #expect(!mount.isMounted)
            #expect(try readFile(mount.backing("file")) == "x")
        }
    }
}

extension Result where Failure == Errno {
    /// The errno of a failure, 0 on success.
    var failureErrno: Int32 {
        if case .failure(let error) = self { return error.rawValue }
        return 0
    }
}

@Suite(.enabled(if: canMount))
struct MountFailureTests {
    @Test("a mount the kernel refuses is reported in one stderr line with a non-zero exit, and nothing stays mounted")
    func refusedMount() throws {
        let scratch = try OptionsScratch()
        let run = runProgram(try #require(mountTestBinary),
                             [scratch.source, scratch.mountpoint, "-f", "-o", "context=bogus"])
        #expect(run.status != 0)
        let lines = run.output.split(separator: "\n")
        #expect(lines.count == 1, "\(run.output)")
        #expect(lines.first?.hasPrefix("slabfs: cannot mount on") == true, "\(run.output)")
        #expect(!parseMountInfo((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "")
                    .contains(scratch.mountpoint))
    }
}
