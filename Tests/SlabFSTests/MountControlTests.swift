import DCache
import Foundation
import Glibc
@testable import SlabFS
import Slab
import SystemPackage
import Testing

/// The control attributes under `user.slabfs.` and the `slabfs stats`,
/// `top`, `reclaim` and `compact` subcommands, on real mounts.
@Suite(.enabled(if: canMount))
struct MountControlTests {
    @Test("20,000 files show in active_objs; once the kernel lets go, a reclaim frees their slabs and the daemon's RSS falls")
    func accountingAndReclaim() throws {
        try withMount(["--cache-size", "1G"]) { mount in
            let directories = 20, perDirectory = 1000
            for directory in 0..<directories {
                try FileManager.default.createDirectory(atPath: mount.backing("d\(directory)"), withIntermediateDirectories: false)
                for index in 0..<perDirectory {
                    try writeFile(mount.backing("d\(directory)/f\(index)"), "")
                }
            }
            let start = try statistics(mount)
            for directory in 0..<directories {
                for index in 0..<perDirectory {
                    #expect(fileStatus(mount.mounted("d\(directory)/f\(index)")).failureErrno == 0)
                }
            }
            let full = try statistics(mount)
            let inodes = try #require(full.cache.caches.first { $0.name == "slabfs_inode" })
            let dentries = try #require(full.cache.caches.first { $0.name == "slabfs_dentry" })
            let files = directories * perDirectory
            #expect(inodes.activeObjects >= files + directories)
            #expect(dentries.activeObjects >= files + directories)
            #expect(full.cache.inodes >= files + directories)
            // slabinfo says the same as stats.
            let slabinfo = try text(mount.mountpoint, "user.slabfs.slabinfo")
            let line = try #require(slabinfo.split(separator: "\n").first { $0.hasPrefix("slabfs_inode ") })
            let activeInSlabinfo = try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
            #expect(activeInSlabinfo >= files + directories)
            #expect(full.daemonRSSBytes > start.daemonRSSBytes)

            // Make the kernel FORGET them.
            let held = try makeKernelForget(mount, limit: 100, until: 200)
            #expect(held <= 200, "the kernel still holds \(held) inodes")

            let rssBefore = try residentBytes(mount.pid)
            try setAttribute(mount.mountpoint, "user.slabfs.reclaim", "100000")
            let report = try JSONDecoder().decode(ReclaimReport.self, from: Data(try attribute(mount.mountpoint, "user.slabfs.reclaim")))
            #expect(report.pagesFreed > 0)
            let after = try statistics(mount)
            let inodesAfter = try #require(after.cache.caches.first { $0.name == "slabfs_inode" })
            #expect(inodesAfter.totalSlabs < inodes.totalSlabs / 4, "\(inodes.totalSlabs) inode slabs, then \(inodesAfter.totalSlabs)")
            #expect(inodesAfter.activeObjects < inodes.activeObjects / 4)
            let rssAfter = try residentBytes(mount.pid)
            // The inode and dentry slabs of 20,000 files are several MiB. A
            // sanitizer's shadow memory hides that in a sanitized daemon.
            if !underSanitizer {
                #expect(rssAfter < rssBefore - (1 << 20), "VmRSS \(rssBefore) then \(rssAfter) bytes")
            }
            // What was reclaimed is looked up again on demand.
            #expect(fileStatus(mount.mounted("d3/f7")).failureErrno == 0)
        }
    }

    @Test("cutting cache_size below what is in use wakes reclaim at once")
    func cacheSizeCut() throws {
        try withMount(["--cache-size", "1G", "--kernel-cache-limit", "100"]) { mount in
            for index in 0..<5000 { try writeFile(mount.backing("f\(index)"), "") }
            for index in 0..<5000 { #expect(fileStatus(mount.mounted("f\(index)")).failureErrno == 0) }
            let before = try statistics(mount).cache.residentPages
            #expect(before > 64)
            try setAttribute(mount.mountpoint, "user.slabfs.cache_size", "128K")
            #expect(try text(mount.mountpoint, "user.slabfs.cache_size") == "131072")
            // Nothing reclaims on a timer, so only the cut's wake-up, and the
            // FORGETs' as the kernel lets go of what the kernelDrops asked it to
            // drop, can bring the pages down. The bound is generous: with the
            // whole suite running in parallel on 2 cores the kernelDrops lags.
            var pages = before
            for _ in 0..<400 {
                pages = try statistics(mount).cache.residentPages
                if pages < before / 2 { break }
                usleep(50_000)
            }
            let after = try statistics(mount)
            let state = "kernel holds \(after.kernelHeldInodes) inodes, \(after.cache[.kernelDropsRequested]) kernel drops, "
                + "\(after.cache[.reclaimPasses]) reclaim passes, \(after.cache.inodes) inodes cached"
            #expect(pages < before / 2, "\(before) resident pages, then \(pages); \(state)")
            #expect(after.cache[.pressureBudget] > 0)
        }
    }

    @Test("each writable setting reads back what was set, shows in stats, and bad values are EINVAL and change nothing")
    func settings() throws {
        try withMount { mount in
            let root = mount.mountpoint
            let good: [(name: String, value: String, reads: String)] = [
                ("cache_size", "64M", "67108864"), ("cache_size", "1g", "1073741824"), ("cache_size", "4096", "4096"),
                ("eviction", "lru", "lru"), ("migrate", "off", "off"), ("kernel_cache_limit", "5000", "5000"),
                ("kernel_cache_limit", "0", "0"), ("negative_limit", "10", "10"),
                ("entry_timeout", "0.5", "0.5"), ("attr_timeout", "2", "2.0"), ("cache_timeout", "30", "30.0"),
                ("poll_us", "0", "0"), ("poll_us", "1000", "1000"), ("poll_us", "50", "50"),
                ("readdir_cache", "off", "off"), ("readdir_cache", "on", "on"),
            ]
            for (name, value, reads) in good {
                try setAttribute(root, "user.slabfs." + name, value)
                #expect(try text(root, "user.slabfs." + name) == reads, "\(name)=\(value)")
                #expect(try statistics(mount).configuration[name] == reads, "\(name) in stats")
            }
            // A trailing newline (echo) is fine.
            try setAttribute(root, "user.slabfs.eviction", "page\n")
            #expect(try statistics(mount).cache.eviction == "page")
            try setAttribute(root, "user.slabfs.eviction", "lru")
            #expect(try statistics(mount).cache.eviction == "lru")
            #expect(try statistics(mount).cache.migrate == false)

            let bad: [(name: String, value: String)] = [
                ("cache_size", "0"), ("cache_size", "-1"), ("cache_size", "2048G"), ("cache_size", "abc"),
                ("cache_size", "64X"), ("cache_size", "1.5G"), ("cache_size", ""),
                ("eviction", "fifo"), ("eviction", "LRU"), ("migrate", "yes"), ("migrate", "1"),
                ("kernel_cache_limit", "-3"), ("kernel_cache_limit", "many"), ("kernel_cache_limit", "99999999999"),
                ("negative_limit", "-1"), ("negative_limit", "1e3"),
                ("entry_timeout", "-1"), ("entry_timeout", "inf"), ("attr_timeout", "soon"),
                ("cache_timeout", "-2"), ("cache_timeout", "later"),
                ("poll_us", "-1"), ("poll_us", "1001"), ("poll_us", "fast"),
                ("readdir_cache", "yes"), ("readdir_cache", "0"), ("readdir_cache", ""),
                ("nonsense", "1"), ("reclaim", "0"), ("reclaim", "-5"), ("reclaim", "x"), ("compact", "2"),
                ("stats", "1"), ("slabinfo", "1"), ("slabmap", "1"), ("object", "1"), ("page_size", "8192"),
                ("threads", "4"),
                ("psi_threshold_us", "1000"),
            ]
            let before = try statistics(mount).configuration
            for (name, value) in bad {
                #expect(setAttributeErrno(root, "user.slabfs." + name, value) == EINVAL, "\(name)=\(value)")
            }
            #expect(try statistics(mount).configuration == before)
            // Unknown names read as absent; removing anything under the prefix is EINVAL.
            #expect(attributeErrno(root, "user.slabfs.nonsense") == ENODATA)
            #expect(attributeErrno(root, "user.slabfs.") == ENODATA)
            #expect(attributeErrno(root, "user.slabfs.page_size") == ENODATA)
            #expect(removeAttributeErrno(root, "user.slabfs.cache_size") == EINVAL)
            #expect(removeAttributeErrno(root, "user.slabfs.nonsense") == EINVAL)
            // Nothing reached the backing root.
            #expect(try attributeNames(mount.source).allSatisfy { !$0.hasPrefix("user.slabfs.") })
        }
    }

    @Test("entry_timeout set while mounted applies to later lookups; a limit set while mounted applies to the kernelDrops")
    func settingsChangeBehaviour() throws {
        // Timeouts, not events: the test is about what the timeouts hide.
        try withMount(["--coherence", "timeouts", "--entry-timeout", "3600", "--attr-timeout", "3600"]) { mount in
            try writeFile(mount.backing("a"), "a")
            #expect(fileStatus(mount.mounted("a")).failureErrno == 0)
            // With kernel timeouts of 0 the kernel asks us every time; our cache
            // (one hour) still answers for a file removed behind the mount. With
            // a cache timeout of 0 we ask the backing directory and see it gone.
            try setAttribute(mount.mountpoint, "user.slabfs.entry_timeout", "0")
            try setAttribute(mount.mountpoint, "user.slabfs.attr_timeout", "0")
            try setAttribute(mount.mountpoint, "user.slabfs.cache_timeout", "3600")
            try writeFile(mount.backing("b"), "b")
            #expect(fileStatus(mount.mounted("b")).failureErrno == 0)
            #expect(unlink(mount.backing("b")) == 0)
            #expect(fileStatus(mount.mounted("b")).failureErrno == 0)
            try setAttribute(mount.mountpoint, "user.slabfs.cache_timeout", "0")
            #expect(fileStatus(mount.mounted("b")).failureErrno == ENOENT)
            // Changes made through the mount show at once, whatever the timeouts.
            try setAttribute(mount.mountpoint, "user.slabfs.cache_timeout", "3600")
            try writeFile(mount.mounted("c"), "c")
            #expect((try fileStatus(mount.mounted("c")).get()).st_size == 1)
            try writeFile(mount.mounted("c"), "longer")
            #expect((try fileStatus(mount.mounted("c")).get()).st_size == 6)
            #expect(unlink(mount.mounted("c")) == 0)
            #expect(fileStatus(mount.mounted("c")).failureErrno == ENOENT)
        }
    }

    @Test("readdir_cache: on, the kernel answers a second listing itself; off (at mount or while mounted), every listing reaches the backing directory")
    func readdirCache() throws {
        // Timeouts, not events: with events a name added behind the mount
        // drops the kept listing at once.
        try withMount(["--coherence", "timeouts", "--cache-timeout", "3600"]) { mount in
            let listing = { try FileManager.default.contentsOfDirectory(atPath: mount.mounted("")).sorted() }
            try writeFile(mount.backing("a"), "a")
            #expect(try listing() == ["a"])
            // A name added behind the mount: the kernel's kept listing, and our
            // cache's attributes (an hour), say nothing changed.
            try writeFile(mount.backing("b"), "b")
            #expect(try listing() == ["a"])
            try setAttribute(mount.mountpoint, "user.slabfs.readdir_cache", "off")
            #expect(try listing() == ["a", "b"])
            try writeFile(mount.backing("c"), "c")
            #expect(try listing() == ["a", "b", "c"])

            let off = try MountedSlabfs(["--coherence", "timeouts", "--cache-timeout", "3600", "-o", "readdir_cache=off"])
            defer { off.tearDown() }
            #expect(try statistics(off).configuration["readdir_cache"] == "off")
            try writeFile(off.backing("a"), "a")
            #expect(try FileManager.default.contentsOfDirectory(atPath: off.mounted("")) == ["a"])
            try writeFile(off.backing("b"), "b")
            #expect(try FileManager.default.contentsOfDirectory(atPath: off.mounted("")).sorted() == ["a", "b"])
        }
    }

    @Test("user.slabfs.object describes a node's inode and the dentries naming it; on other nodes nothing else is under the prefix")
    func objectAttribute() throws {
        try withMount { mount in
            try FileManager.default.createDirectory(atPath: mount.mounted("dir"), withIntermediateDirectories: false)
            try writeFile(mount.mounted("dir/file"), "x")
            #expect(link(mount.mounted("dir/file"), mount.mounted("linked")) == 0)

            let root = try object(mount.mountpoint)
            #expect(root.inode.nodeID == NodeID.root.rawValue)
            #expect(root.dentries.isEmpty && root.dentryCount == 0)
            #expect(root.inode.object.cache == "slabfs_inode")

            let directory = try object(mount.mounted("dir"))
            #expect(directory.inode.kernelLookups >= 1)
            #expect(directory.inode.object.count >= 1)
            #expect(directory.dentries.count == 1)
            #expect(directory.dentries.first?.parent == NodeID.root.rawValue)
            #expect(directory.dentries.first?.name == "dir")
            #expect(directory.dentries.first?.child == directory.inode.nodeID)
            #expect(directory.dentries.first?.object.cache == "slabfs_dentry")

            let file = try object(mount.mounted("dir/file"))
            #expect(file.inode.nodeID != directory.inode.nodeID && file.inode.nodeID != NodeID.root.rawValue)
            #expect(file.inode.kernelLookups >= 1)
            // Two names (a hard link): both dentries, each naming this node.
            #expect(file.dentryCount == 2)
            #expect(Set(file.dentries.map(\.name)) == ["file", "linked"])
            #expect(file.dentries.allSatisfy { $0.child == file.inode.nodeID })
            #expect(file.dentries.first { $0.name == "file" }?.parent == directory.inode.nodeID)
            // The same node through either name, and the same on a second read.
            #expect(try object(mount.mounted("linked")).inode.nodeID == file.inode.nodeID)
            let again = try object(mount.mounted("dir/file"))
            #expect(again.inode.nodeID == file.inode.nodeID && again.inode.object.slab == file.inode.object.slab
                && again.inode.object.slot == file.inode.object.slot)

            // On a file: only `object`; the root's names are absent, and
            // setting anything under the prefix is EINVAL.
            let path = mount.mounted("dir/file")
            for name in ["stats", "slabinfo", "slabmap", "reclaim", "compact", "cache_size", "eviction", "nonsense"] {
                #expect(attributeErrno(path, "user.slabfs." + name) == ENODATA, "\(name)")
            }
            for name in ["object", "cache_size", "eviction", "reclaim", "nonsense"] {
                #expect(setAttributeErrno(path, "user.slabfs." + name, "1") == EINVAL, "\(name)")
                #expect(setAttributeErrno(mount.mounted("dir"), "user.slabfs." + name, "1") == EINVAL, "\(name) on a directory")
            }
            #expect(removeAttributeErrno(path, "user.slabfs.object") == EINVAL)
            // `object` is not listed (so cp -a inside the mount does not copy it).
            #expect(try attributeNames(path).allSatisfy { !$0.hasPrefix("user.slabfs.") })
            #expect(try attributeNames(mount.backing("dir/file")).allSatisfy { !$0.hasPrefix("user.slabfs.") })
            // cp -a of the file inside the mount works.
            #expect(runProgram("/bin/cp", ["-a", path, mount.mounted("copy")]).status == 0)
        }
    }

    @Test("ordinary user.* attributes round-trip to the backing file; the root lists its own with the control names")
    func ordinaryAttributes() throws {
        try withMount { mount in
            try writeFile(mount.mounted("f"), "")
            try setAttribute(mount.mounted("f"), "user.note", "hello")
            #expect(try text(mount.backing("f"), "user.note") == "hello")
            #expect(try text(mount.mounted("f"), "user.note") == "hello")
            #expect(try attributeNames(mount.mounted("f")) == ["user.note"])
            #expect(removeAttributeErrno(mount.mounted("f"), "user.note") == nil)
            #expect(attributeErrno(mount.backing("f"), "user.note") == ENODATA)
            // The backing root's own attribute, then the control names.
            try setAttribute(mount.source, "user.rootnote", "r")
            let listed = try attributeNames(mount.mountpoint)
            #expect(listed.contains("user.rootnote"))
            #expect(Set(listed.filter { $0.hasPrefix("user.slabfs.") }) == Set(ControlAttribute.listed))
            #expect(!listed.contains("user.slabfs.object"))
            #expect(try text(mount.mountpoint, "user.rootnote") == "r")
            // getfattr -d shows them, and reads each control value.
            let dump = runProgram("/usr/bin/getfattr", ["-d", "--absolute-names", mount.mountpoint])
            #expect(dump.status == 0 && dump.output.contains("user.slabfs.eviction=\"page\"") && dump.output.contains("user.rootnote=\"r\""))
        }
    }

    @Test("slabfs stats, top --once, reclaim and compact on a mount; one-line errors on a non-mount")
    func subcommands() throws {
        let binary = try #require(mountTestBinary)
        try withMount { mount in
            for index in 0..<500 { try writeFile(mount.mounted("f\(index)"), "") }
            let stats = runProgram(binary, ["stats", mount.mountpoint])
            #expect(stats.status == 0)
            #expect(stats.output.contains("slabfs_inode") && stats.output.contains("slabfs_dentry"), "\(stats.output)")
            let json = runProgram(binary, ["stats", "--json", mount.mountpoint])
            #expect(json.status == 0)
            #expect((try? JSONDecoder().decode(MountStatistics.self, from: Data(json.output.utf8))) != nil)
            let top = runProgram(binary, ["top", "--once", mount.mountpoint])
            #expect(top.status == 0 && top.output.contains("slabfs_inode"), "\(top.output)")
            let reclaim = runProgram(binary, ["reclaim", mount.mountpoint, "--pages", "4"])
            #expect(reclaim.status == 0 && reclaim.output.hasPrefix("reclaim ("), "\(reclaim.output)")
            let compact = runProgram(binary, ["compact", mount.mountpoint])
            #expect(compact.status == 0 && compact.output.hasPrefix("compact: "), "\(compact.output)")
            #expect(try statistics(mount).cache[.pressureExplicit] >= 1)

            for command in [["stats"], ["top", "--once"], ["reclaim", "--pages", "1"], ["compact"]] {
                let result = runProgram(binary, [command[0], mount.root] + command.dropFirst())
                #expect(result.status != 0, "\(command)")
                let lines = result.output.split(separator: "\n")
                #expect(lines.count == 1 && result.output.contains("not the mountpoint of a slabfs mount"), "\(command): \(result.output)")
            }
        }
    }

    // MARK: Helpers

    private func object(_ path: String) throws -> ObjectReport {
        try JSONDecoder().decode(ObjectReport.self, from: Data(try attribute(path, "user.slabfs.object")))
    }

    private func attribute(_ path: String, _ name: String) throws(Errno) -> [UInt8] {
        try withPath(path) { (descriptor) throws(Errno) in try descriptor.extendedAttribute(name) }
    }

    private func text(_ path: String, _ name: String) throws -> String {
        String(decoding: try attribute(path, name), as: UTF8.self)
    }

    private func attributeErrno(_ path: String, _ name: String) -> Int32? {
        do throws(Errno) {
            _ = try attribute(path, name)
            return nil
        } catch {
            return error.rawValue
        }
    }

    private func setAttribute(_ path: String, _ name: String, _ value: String) throws {
        if let failure = setAttributeErrno(path, name, value) { throw Errno(rawValue: failure) }
    }

    private func setAttributeErrno(_ path: String, _ name: String, _ value: String) -> Int32? {
        do throws(Errno) {
            try withPath(path) { (descriptor) throws(Errno) in try descriptor.setExtendedAttribute(name, to: Array(value.utf8)) }
            return nil
        } catch {
            return error.rawValue
        }
    }

    private func removeAttributeErrno(_ path: String, _ name: String) -> Int32? {
        do throws(Errno) {
            try withPath(path) { (descriptor) throws(Errno) in try descriptor.removeExtendedAttribute(name) }
            return nil
        } catch {
            return error.rawValue
        }
    }

    private func attributeNames(_ path: String) throws -> [String] {
        try withPath(path) { (descriptor) throws(Errno) in try descriptor.extendedAttributeNames() }
    }

    /// VmRSS from /proc/PID/status, in bytes.
    private func residentBytes(_ pid: Int32) throws -> Int {
        let status = try readFile("/proc/\(pid)/status")
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kilobytes = try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        return kilobytes * 1024
    }
}
