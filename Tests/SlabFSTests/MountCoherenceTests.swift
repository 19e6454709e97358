import DCache
import Dispatch
import Foundation
import Glibc
@testable import SlabFS
import Synchronization
import SystemPackage
import Testing

/// Changes made behind the mount, in the backing directory, seen through it
/// by events (the default coherence), with the kernel's and our long
/// timeouts in force; under ThreadSanitizer too, with the daemon built the
/// same way.
@Suite(.enabled(if: canMount))
struct MountCoherenceTests {
    @Test("with the default coherence, creates, renames, chmods, appends and unlinks behind the mount show within a second")
    func changesBehindShow() throws {
        try withMount { mount in
            let stats = try statistics(mount)
            // Events work here (root, ext4 or tmpfs under /tmp); if not, the
            // mount says why, and this test has nothing to check.
            try #require(stats.coherence?.mode == "events", "coherence: \(String(describing: stats.coherence))")
            #expect(stats.configuration["entry_timeout"] == "3600.0" && stats.configuration["cache_timeout"] == "3600.0")
            try writeFile(mount.backing("kept"), "one")
            try writeFile(mount.backing("moved"), "two")
            // Cached in the kernel and in the daemon.
            #expect(try readFile(mount.mounted("kept")) == "one")
            #expect(fileStatus(mount.mounted("moved")).failureErrno == 0)
            #expect(fileStatus(mount.mounted("new")).failureErrno == ENOENT)
            _ = try FileManager.default.contentsOfDirectory(atPath: mount.mountpoint)

            try writeFile(mount.backing("new"), "three")
            #expect(eventually { (try? readFile(mount.mounted("new"))) == "three" }, "a created file shows")
            #expect(eventually { (try? FileManager.default.contentsOfDirectory(atPath: mount.mountpoint))?.contains("new") == true },
                    "and is listed")
            #expect(rename(mount.backing("moved"), mount.backing("renamed")) == 0)
            #expect(eventually { fileStatus(mount.mounted("moved")).failureErrno == ENOENT
                && fileStatus(mount.mounted("renamed")).failureErrno == 0 }, "a rename shows")
            #expect(chmod(mount.backing("kept"), 0o600) == 0)
            #expect(eventually { (try? fileStatus(mount.mounted("kept")).get().st_mode & 0o777) == 0o600 }, "a chmod shows")
            let appended = try FileHandle(forWritingTo: URL(fileURLWithPath: mount.backing("kept")))
            appended.seekToEndOfFile()
            appended.write(Data(" and more".utf8))
            try appended.close()
            #expect(eventually { (try? readFile(mount.mounted("kept"))) == "one and more" }, "an append shows, size and data")
            #expect(unlink(mount.backing("renamed")) == 0)
            #expect(eventually { fileStatus(mount.mounted("renamed")).failureErrno == ENOENT }, "an unlink shows")
            let after = try statistics(mount)
            #expect((after.coherence?.namesInvalidated ?? 0) > 0 && (after.coherence?.kernelNotifications ?? 0) > 0)
        }
    }

    @Test("events arriving while reclaim and compaction run on a tiny cache leave names and data right")
    func eventsDuringReclaim() throws {
        try withMount(["--cache-size", "64K"]) { mount in
            try #require(try statistics(mount).coherence?.mode == "events")
            let directories = 8, files = 150
            for directory in 0..<directories {
                try FileManager.default.createDirectory(atPath: mount.backing("d\(directory)"), withIntermediateDirectories: false)
                for index in 0..<files { try writeFile(mount.backing("d\(directory)/f\(index)"), "v0 \(index)") }
            }
            for directory in 0..<directories {
                for index in 0..<files { _ = fileStatus(mount.mounted("d\(directory)/f\(index)")) }
            }
            let done = Atomic<Bool>(false)
            let mountpoint = mount.mountpoint, source = mount.source
            DispatchQueue.concurrentPerform(iterations: 3) { role in
                switch role {
                case 0:
                    // Behind the mount: rewrite, rename, remove and create.
                    for round in 1...3 {
                        for directory in 0..<directories {
                            for index in stride(from: round % 3, to: files, by: 3) {
                                let path = "\(source)/d\(directory)/f\(index)"
                                switch index % 4 {
                                case 0: try? writeFile(path, "v\(round) \(index) rewritten")
                                case 1: _ = rename(path, path + ".r\(round)")
                                case 2: _ = chmod(path, 0o600)
                                default: _ = unlink(path)
                                }
                                try? writeFile("\(source)/d\(directory)/n\(round)-\(index)", "new \(round)")
                            }
                        }
                    }
                    done.store(true, ordering: .relaxed)
                case 1:
                    // Reclaim and compaction, over and over.
                    while !done.load(ordering: .relaxed) {
                        for (name, value) in [("user.slabfs.reclaim", "100000"), ("user.slabfs.compact", "1")] {
                            _ = try? withPath(mountpoint) { (descriptor) throws(Errno) in
                                try descriptor.setExtendedAttribute(name, to: Array(value.utf8))
                            }
                        }
                    }
                default:
                    // Requests through the mount meanwhile.
                    while !done.load(ordering: .relaxed) {
                        for directory in 0..<directories {
                            _ = try? FileManager.default.contentsOfDirectory(atPath: "\(mountpoint)/d\(directory)")
                            for index in stride(from: 0, to: files, by: 7) { _ = fileStatus("\(mountpoint)/d\(directory)/f\(index)") }
                        }
                    }
                }
            }
            // Every name, mode and byte through the mount as in the backing directory.
            func snapshot(_ root: String) -> [String] {
                (0..<directories).flatMap { directory -> [String] in
                    let path = "\(root)/d\(directory)"
                    let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
                    return names.map { name in
                        let status = try? fileStatus("\(path)/\(name)").get()
                        let data = (try? readFile("\(path)/\(name)")) ?? "?"
                        return "d\(directory)/\(name) \(String(status?.st_mode ?? 0, radix: 8)) \(data)"
                    }
                }
            }
            let backing = snapshot(source)
            #expect(eventually(within: 2) { snapshot(mountpoint) == backing },
                    "the mount differs from the backing directory: \(Set(snapshot(mountpoint)).symmetricDifference(backing).sorted().prefix(5))")
            let stats = try statistics(mount)
            #expect(stats.cache[.reclaimPasses] > 0)
            #expect((stats.coherence?.namesInvalidated ?? 0) > 0)
        }
    }

    @Test("stale attributes of files written through the mount and behind it are read again in idle time, and are the backing file's after the kernel forgets them")
    func staleAttributesRefreshed() throws {
        try withMount { mount in
            let before = try statistics(mount)
            try #require(before.coherence?.mode == "events")
            let files = 40
            for index in 0..<files { try writeFile(mount.backing("behind\(index)"), "v0") }
            // Cached in the kernel and here, then rewritten behind the mount.
            for index in 0..<files { _ = try fileStatus(mount.mounted("behind\(index)")).get() }
            usleep(20_000)
            for index in 0..<files { try writeFile(mount.backing("behind\(index)"), String(repeating: "b", count: 100 + index)) }
            // Written through the mount: with passthrough the kernel writes
            // the backing file, and its close is an event of the user's.
            for index in 0..<files { try writeFile(mount.mounted("through\(index)"), String(repeating: "t", count: 200 + index)) }
            let passthrough = before.passthrough?.mode == "on"
            let expected = files + (passthrough ? files : 0)
            let refreshed = { ((try? statistics(mount))?.coherence?.attributesRefreshed ?? 0)
                - (before.coherence?.attributesRefreshed ?? 0) }
            #expect(eventually(within: 5) { refreshed() >= expected }, "refreshed \(refreshed()) of \(expected)")
            let held = try makeKernelForget(mount, limit: 1, until: 10)
            #expect(held <= 10, "the kernel still holds \(held) inodes")
            for name in (0..<files).flatMap({ ["behind\($0)", "through\($0)"] }) {
                let mounted = try fileStatus(mount.mounted(name)).get(), backing = try fileStatus(mount.backing(name)).get()
                #expect(mounted.st_size == backing.st_size, "\(name): size")
                #expect(mounted.st_mtim.tv_sec == backing.st_mtim.tv_sec && mounted.st_mtim.tv_nsec == backing.st_mtim.tv_nsec,
                        "\(name): mtime")
            }
            #expect(try statistics(mount).coherence?.refreshesDropped == 0)
        }
    }
}
