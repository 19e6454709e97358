import DCache
import Foundation
import Glibc
@testable import SlabFS
import SystemPackage
import Testing

/// Many files, few descriptors: a cached inode keeps a file handle, not an
/// open descriptor, so the daemon's descriptor count does not grow with
/// the files the kernel and the cache hold.
@Suite(.enabled(if: canMount))
struct MountScaleTests {
    @Test("50,000 files are looked up through the mount while the daemon holds fewer than 100 descriptors")
    func manyFilesFewDescriptors() throws {
        let mount = try MountedSlabfs()
        defer { mount.tearDown() }
        let directories = 50, perDirectory = 1000
        try makeFiles(in: mount, directories: directories, perDirectory: perDirectory)
        var most = 0
        for directory in 0..<directories {
            for index in 0..<perDirectory {
                var result = stat()
                guard lstat(mount.mounted("d\(directory)/f\(index)"), &result) == 0 else {
                    Issue.record("lstat d\(directory)/f\(index): \(Errno(rawValue: errno))")
                    return
                }
            }
            most = max(most, mount.descriptorCount)
        }
        // Each file became an inode of ours (the kernel may have let go of
        // some meanwhile, under memory pressure or PSI-driven kicks).
        let stats = try statistics(of: mount)
        #expect(stats.cache[.inodesCreated] >= directories * perDirectory)
        #expect(most > 0 && most < 100, "the daemon held \(most) descriptors")
        #expect(mount.descriptorCount < 100)
    }

    @Test("with --kernel-cache-limit the kernel is made to let go of inodes beyond the limit")
    func kernelCacheLimit() throws {
        let mount = try MountedSlabfs(["--kernel-cache-limit", "1000"])
        defer { mount.tearDown() }
        try makeFiles(in: mount, directories: 4, perDirectory: 1000)
        for directory in 0..<4 {
            for index in 0..<1000 {
                var result = stat()
                #expect(lstat(mount.mounted("d\(directory)/f\(index)"), &result) == 0)
            }
        }
        // Kicks are asynchronous: the kicker sends them, the kernel FORGETs.
        var held = Int.max
        for _ in 0..<100 {
            held = try statistics(of: mount).kernelHeldInodes
            if held <= 1000 { break }
            usleep(100_000)
        }
        #expect(held <= 1000)
        // What was kicked is still there, looked up again on demand.
        #expect(try readFile(mount.mounted("d0/f0")) == "")
    }

    private func makeFiles(in mount: MountedSlabfs, directories: Int, perDirectory: Int) throws {
        for directory in 0..<directories {
            let path = mount.backing("d\(directory)")
            #expect(mkdir(path, 0o755) == 0)
            for index in 0..<perDirectory {
                let fd = open(path + "/f\(index)", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw Errno(rawValue: errno) }
                close(fd)
            }
        }
    }

    private func statistics(of mount: MountedSlabfs) throws -> MountStatistics {
        let root = try FileDescriptor.open(mount.mountpoint, .readOnly, options: .directory)
        defer { try? root.close() }
        return try JSONDecoder().decode(MountStatistics.self, from: Data(try root.extendedAttribute("user.slabfs.stats")))
    }
}
