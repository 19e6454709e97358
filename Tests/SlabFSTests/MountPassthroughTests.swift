import CSlabSupport
import Foundation
import Glibc
@testable import SlabFS
import SystemPackage
import Testing

/// The kernel's FUSE passthrough on real mounts: which opens use it, that
/// their reads and writes never reach the daemon, and that every way of
/// using a file keeps its meaning with it on and off.
@Suite(.enabled(if: canMount))
struct MountPassthroughTests {
    /// A request count from the mount's stats.
    private func requests(_ mount: MountedSlabfs, _ name: String) throws -> Int {
        try statistics(mount).requests?[name] ?? -1
    }

    private func writeAt(_ path: String, _ text: String, flags: Int32 = O_WRONLY, offset: Int64? = nil) throws {
        let descriptor = try FileDescriptor.open(FilePath(path), FileDescriptor.AccessMode(rawValue: flags & O_ACCMODE),
                                                 options: FileDescriptor.OpenOptions(rawValue: flags & ~O_ACCMODE))
        defer { try? descriptor.close() }
        if let offset {
            _ = try descriptor.writeAll(toAbsoluteOffset: offset, Array(text.utf8))
        } else {
            _ = try descriptor.writeAll(Array(text.utf8))
        }
    }

    @Test("by default, a regular file's reads and writes go to the backing file without a request; a setuid file's come to slabfs")
    func readsAndWritesBypassTheDaemon() throws {
        try withMount { mount in
            let stats = try statistics(mount)
            try #require(stats.passthrough?.mode == "on", "passthrough: \(String(describing: stats.passthrough))")
            let (writesBefore, readsBefore) = (try requests(mount, "write"), try requests(mount, "read"))
            for index in 0..<20 {
                try writeFile(mount.mounted("f\(index)"), String(repeating: "\(index % 10)", count: 4096))
            }
            for index in 0..<20 {
                #expect(try readFile(mount.backing("f\(index)")) == String(repeating: "\(index % 10)", count: 4096))
            }
            // Cold reads: from the backing file, past the kernel's page cache.
            for index in 0..<20 {
                #expect(try readFile(mount.mounted("f\(index)")) == String(repeating: "\(index % 10)", count: 4096))
            }
            #expect(try requests(mount, "write") == writesBefore)
            #expect(try requests(mount, "read") == readsBefore)
            #expect(try statistics(mount).passthrough?.registrations ?? 0 >= 20)
            #expect(try statistics(mount).passthrough?.openInodes == 0, "no inode is open after the last close")

            // setuid: served by slabfs, so that a non-owner's write can clear the bit.
            try writeFile(mount.backing("setuid"), "x")
            #expect(chmod(mount.backing("setuid"), 0o4777) == 0)
            #expect(chmod(mount.mounted("setuid"), 0o4777) == 0)
            try writeAt(mount.mounted("setuid"), "y", flags: O_WRONLY | O_APPEND)
            #expect(try requests(mount, "write") > writesBefore)
            #expect(try readFile(mount.backing("setuid")) == "xy")
        }
    }

    @Test("the attributes cached at the last close of a file written in passthrough are the file's, before and after the kernel forgets it")
    func attributesAtLastClose() throws {
        try withMount { mount in
            try #require(try statistics(mount).passthrough?.mode == "on")
            func sameAsBacking(_ name: String, _ when: String) throws {
                let mounted = try fileStatus(mount.mounted(name)).get(), backing = try fileStatus(mount.backing(name)).get()
                #expect(mounted.st_size == backing.st_size, "\(when): size")
                #expect(mounted.st_mtim.tv_sec == backing.st_mtim.tv_sec && mounted.st_mtim.tv_nsec == backing.st_mtim.tv_nsec,
                        "\(when): mtime")
                #expect(mounted.st_ctim.tv_nsec == backing.st_ctim.tv_nsec, "\(when): ctime")
            }
            for index in 0..<50 { try writeFile(mount.mounted("f\(index)"), "first") }
            usleep(20_000)
            for index in 0..<50 {
                try writeAt(mount.mounted("f\(index)"), String(repeating: "x", count: 5000 + index), flags: O_WRONLY | O_TRUNC)
            }
            for index in 0..<50 { try sameAsBacking("f\(index)", "after close") }
            // The kernel lets go of its entries: the next stat is a LOOKUP,
            // answered from what the last close cached.
            let held = try makeKernelForget(mount, limit: 1, until: 10)
            #expect(held <= 10, "the kernel still holds \(held) inodes")
            for index in 0..<50 { try sameAsBacking("f\(index)", "after the kernel forgot it") }
        }
    }

    @Test("a file opened again reuses its registration; one unlinked (through the mount or behind it) gives it back, one made executable keeps none (exec would say ETXTBSY); without events none is kept",
          arguments: ["events", "timeouts"])
    func idleRegistrations(coherence: String) throws {
        try withMount(["--coherence", coherence]) { mount in
            try #require(try statistics(mount).passthrough?.mode == "on")
            for index in 0..<20 { try writeFile(mount.mounted("f\(index)"), "data \(index)") }
            let written = try #require(try statistics(mount).passthrough)
            for index in 0..<20 { #expect(try readFile(mount.mounted("f\(index)")) == "data \(index)") }
            let read = try #require(try statistics(mount).passthrough)
            #expect(read.openInodes == 0)
            guard coherence == "events" else {
                #expect(read.idleRegistrations == 0 && read.reuses == 0, "\(read)")
                #expect(read.registrations - written.registrations == 20, "one registration per open")
                return
            }
            #expect(read.registrations == written.registrations, "no registration for a file opened again")
            #expect((read.reuses ?? 0) - (written.reuses ?? 0) == 20)
            #expect(read.idleRegistrations == 20)
            // Unlinked through the mount: the kernel forgets the inode at once.
            #expect(unlink(mount.mounted("f0")) == 0)
            #expect(eventually(within: 5) { (try? statistics(mount).passthrough?.idleRegistrations) == 19 })
            // Behind the mount: the event makes the kernel drop its entry, then
            // the inode; the backing file is not kept open past that.
            #expect(unlink(mount.backing("f1")) == 0)
            #expect(eventually(within: 5) { (try? statistics(mount).passthrough?.idleRegistrations) == 18 })
            // A file opened while idle-registered still reads what was written behind the mount.
            try writeFile(mount.backing("f2"), "changed behind")
            #expect(eventually(within: 5) { (try? readFile(mount.mounted("f2"))) == "changed behind" })
            // Made executable, through the mount or behind it, a file keeps no
            // writable backing file open: exec of the backing file works.
            for (index, chmodPath) in [(3, mount.mounted("f3")), (4, mount.backing("f4"))] {
                try writeFile(mount.mounted("f\(index)"), "#!/bin/sh\necho ran \(index)\n")
                #expect(chmod(chmodPath, 0o755) == 0)
                _ = try readFile(mount.mounted("f\(index)"))
                let run = runProgram(mount.backing("f\(index)"), [])
                #expect(eventually(within: 5) { runProgram(mount.backing("f\(index)"), []).output == "ran \(index)\n" },
                        "exec of the backing file: status \(run.status), \(run.output)")
            }
            // A file unlinked through the mount: the kernel lets go of its
            // backing file (the kernel drop thread gives the registration
            // back after the FORGET), so its blocks are freed.
            func freeBytes() -> Int {
                var status = statvfs()
                return statvfs(mount.backing(""), &status) == 0 ? Int(status.f_bavail) * Int(status.f_frsize) : 0
            }
            try writeFile(mount.mounted("big"), String(repeating: "b", count: 32 << 20))
            _ = try readFile(mount.mounted("big"))
            let freeWithBig = freeBytes()
            #expect(unlink(mount.mounted("big")) == 0)
            #expect(eventually(within: 5) { freeBytes() - freeWithBig >= 24 << 20 },
                    "32 MiB unlinked, \(freeBytes() - freeWithBig) bytes freed")
        }
    }

    @Test("a file read through the mount while it runs (registered read-only: ETXTBSY) takes writes once it has stopped")
    func readOnlyRegistrationIsNotKept() throws {
        try withMount { mount in
            try #require(try statistics(mount).passthrough?.mode == "on")
            let program = mount.backing("sleeper")
            try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: program)
            let running = Process()
            running.executableURL = URL(fileURLWithPath: program)
            running.arguments = ["1"]
            try running.run()
            usleep(200_000)
            let reader = open(mount.mounted("sleeper"), O_RDONLY)
            #expect(reader >= 0)
            close(reader)
            running.waitUntilExit()
            try writeFile(mount.mounted("sleeper"), "no longer a program")
            #expect(try readFile(mount.backing("sleeper")) == "no longer a program")
        }
    }

    @Test("append, truncate, fallocate, copy_file_range, fsync, shared mmap and two descriptors (one another user's) mean what they do natively",
          arguments: ["on", "off"])
    func semantics(mode: String) throws {
        try withMount(["--passthrough", mode, "-o", "allow_other"]) { mount in
            if mode == "on" { try #require(try statistics(mount).passthrough?.mode == "on") }
            if mode == "off" { #expect(try statistics(mount).passthrough?.mode == "off") }
            let path = mount.mounted("file")
            try writeFile(path, "0123456789")
            #expect(chmod(path, 0o666) == 0)
            // O_APPEND through one descriptor while another is open read-only.
            let reader = try FileDescriptor.open(FilePath(path), .readOnly)
            defer { try? reader.close() }
            try writeAt(path, "abc", flags: O_WRONLY | O_APPEND)
            var buffer = [UInt8](repeating: 0, count: 64)
            var count = try buffer.withUnsafeMutableBytes { try reader.read(fromAbsoluteOffset: 0, into: $0) }
            #expect(String(decoding: buffer[..<count], as: UTF8.self) == "0123456789abc")
            #expect(try fileStatus(path).get().st_size == 13, "stat sees the size the kernel wrote")
            // Another user writes through a descriptor of its own.
            let other = runProgram("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                                        "/bin/sh", "-c", "printf XY | dd of='\(path)' bs=1 seek=2 conv=notrunc 2>/dev/null"])
            #expect(other.status == 0, "nobody's write: \(other.output)")
            count = try buffer.withUnsafeMutableBytes { try reader.read(fromAbsoluteOffset: 0, into: $0) }
            #expect(String(decoding: buffer[..<count], as: UTF8.self) == "01XY456789abc")
            // O_TRUNC and ftruncate.
            try writeAt(path, "short", flags: O_WRONLY | O_TRUNC)
            #expect(try readFile(path) == "short")
            #expect(truncate(path, 2) == 0)
            #expect(try readFile(path) == "sh")
            #expect(try readFile(mount.backing("file")) == "sh")
            // fallocate grows it; fsync; copy_file_range into another file.
            let descriptor = open(path, O_RDWR)
            #expect(descriptor >= 0)
            #expect(posix_fallocate(descriptor, 0, 8192) == 0)
            #expect(fsync(descriptor) == 0)
            #expect(try fileStatus(path).get().st_size == 8192)
            // A shared mapping written, seen by a read through another descriptor.
            let mapping = mmap(nil, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0)
            #expect(mapping != MAP_FAILED)
            if let mapping, mapping != MAP_FAILED {
                mapping.storeBytes(of: UInt8(ascii: "M"), toByteOffset: 100, as: UInt8.self)
                #expect(msync(mapping, 8192, MS_SYNC) == 0)
                munmap(mapping, 8192)
            }
            close(descriptor)
            count = try buffer.withUnsafeMutableBytes { try reader.read(fromAbsoluteOffset: 100, into: $0) }
            #expect(count > 0 && buffer[0] == UInt8(ascii: "M"))
            let source = open(path, O_RDONLY), target = open(mount.mounted("copy"), O_WRONLY | O_CREAT, 0o644)
            var inOffset: Int64 = 0, outOffset: Int64 = 0
            let copied = linux_copy_file_range(source, &inOffset, target, &outOffset, 8192, 0)
            close(source)
            close(target)
            #expect(copied == 8192)
            #expect(try fileStatus(mount.mounted("copy")).get().st_size == 8192)
            #expect(try Data(contentsOf: URL(fileURLWithPath: mount.backing("copy")))[100] == UInt8(ascii: "M"))
        }
    }

    @Test("without CAP_SYS_ADMIN (root in a user namespace), auto serves files through slabfs and says why; on refuses to mount, in one line")
    func withoutCapability() throws {
        // Root of a new user namespace may mount FUSE in its own mount
        // namespace but lacks CAP_SYS_ADMIN where the kernel checks it (the
        // initial namespace). Everything runs inside; the namespace, and
        // any mount left in it, goes when the script ends.
        var template = Array("/tmp/slabfs-userns-XXXXXX".utf8CString)
        let root = String(cString: try #require(mkdtemp(&template)))
        defer { _ = runProgram("/bin/rm", ["-rf", root]) }
        for directory in ["src", "mnt"] { #expect(mkdir(root + "/" + directory, 0o755) == 0) }
        let script = """
            bin=$1 src=$2 mnt=$3
            out=$("$bin" "$src" "$mnt" -f --passthrough on 2>&1); echo "ON $? $out"
            "$bin" "$src" "$mnt" -f 2>"$src/../daemon.log" & pid=$!
            for i in $(seq 200); do grep -q " $mnt " /proc/self/mounts && break; sleep 0.05; done
            echo "STATS $(getfattr --only-values -n user.slabfs.stats "$mnt" 2>/dev/null)"
            echo data > "$mnt/f" && echo "READ $(cat "$mnt/f")"
            umount "$mnt"; wait $pid; echo "EXIT $?"
            """
        let run = runProgram("/usr/bin/unshare", ["--user", "--map-root-user", "--mount", "/bin/sh", "-c", script, "sh",
                                                  try #require(mountTestBinary), root + "/src", root + "/mnt"])
        let lines = run.output.split(separator: "\n").map(String.init)
        // Refused before anything else is said: one line.
        let on = try #require(lines.first { $0.hasPrefix("ON ") }, "\(run.output)")
        #expect(!on.hasPrefix("ON 0 ") && on.contains("slabfs: --passthrough on: FUSE passthrough needs CAP_SYS_ADMIN"),
                "\(run.output)")
        let onIndex = try #require(lines.firstIndex(of: on))
        #expect(lines.indices.contains(onIndex + 1) && lines[onIndex + 1].hasPrefix("STATS "), "\(run.output)")
        let statsLine = try #require(lines.first { $0.hasPrefix("STATS ") }, "\(run.output)")
        let stats = try JSONDecoder().decode(MountStatistics.self, from: Data(statsLine.dropFirst(6).utf8))
        #expect(stats.passthrough?.mode == "off")
        #expect(stats.passthrough?.reason?.contains("CAP_SYS_ADMIN") == true)
        #expect(stats.coherence?.mode == "timeouts", "fanotify marks need it too")
        #expect(lines.contains("READ data"), "\(run.output)")
        #expect(lines.contains("EXIT 0"), "\(run.output)")
        let log = (try? String(contentsOfFile: root + "/daemon.log", encoding: .utf8)) ?? ""
        #expect(log.split(separator: "\n").filter { $0.contains("passthrough: off") }.count == 1, "\(log)")
    }
}
