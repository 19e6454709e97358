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
        try withMount { mount in
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
            // some meanwhile, under memory pressure or PSI-driven kernel drops).
            let stats = try statistics(mount)
            #expect(stats.cache[.inodesCreated] >= directories * perDirectory)
            #expect(most > 0 && most < 100, "the daemon held \(most) descriptors")
            #expect(mount.descriptorCount < 100)
        }
    }

    @Test("with --kernel-cache-limit the kernel is made to let go of inodes beyond the limit")
    func kernelCacheLimit() throws {
        try withMount(["--kernel-cache-limit", "1000"]) { mount in
            try makeFiles(in: mount, directories: 4, perDirectory: 1000)
            for directory in 0..<4 {
                for index in 0..<1000 {
                    var result = stat()
                    #expect(lstat(mount.mounted("d\(directory)/f\(index)"), &result) == 0)
                }
            }
            // Kernel drops are asynchronous: their thread sends them, the kernel FORGETs.
            var held = Int.max
            for _ in 0..<100 {
                held = try statistics(mount).kernelHeldInodes
                if held <= 1000 { break }
                usleep(100_000)
            }
            #expect(held <= 1000)
            // What was dropped is still there, looked up again on demand.
            #expect(try readFile(mount.mounted("d0/f0")) == "")
        }
    }

    @Test("without file handles, inodes the kernel holds keep O_PATH descriptors, closed once it forgets them")
    func descriptorFallback() throws {
        try withMount(["--kernel-cache-limit", "40"], environment: ["SLABFS_FILE_HANDLES": "off"]) { mount in
            try makeFiles(in: mount, directories: 2, perDirectory: 300)
            try writeFile(mount.mounted("d0/f1"), "through a kept descriptor")
            #expect(try readFile(mount.backing("d0/f1")) == "through a kept descriptor")
            #expect(rename(mount.mounted("d0/f1"), mount.mounted("d1/moved")) == 0)
            #expect(link(mount.mounted("d1/moved"), mount.mounted("d1/linked")) == 0)
            #expect((try fileStatus(mount.mounted("d1/linked")).get()).st_nlink == 2)
            #expect(mkdir(mount.mounted("d0/sub"), 0o755) == 0 && rmdir(mount.mounted("d0/sub")) == 0)
            let before = mount.descriptorCount
            for directory in 0..<2 {
                for index in 0..<300 where index != 1 || directory != 0 {
                    var result = stat()
                    #expect(lstat(mount.mounted("d\(directory)/f\(index)"), &result) == 0)
                }
            }
            // The limit makes the kernel forget most of them, and each FORGET
            // closes a descriptor: the count falls back near where it was.
            var held = Int.max, descriptors = Int.max
            for _ in 0..<100 {
                held = try statistics(mount).kernelHeldInodes
                descriptors = mount.descriptorCount
                if held <= 40 && descriptors < before + 60 { break }
                usleep(100_000)
            }
            #expect(held <= 40)
            #expect(descriptors < before + 60, "\(descriptors) descriptors, \(before) before the lookups")
            #expect(try readFile(mount.mounted("d1/linked")) == "through a kept descriptor")
        }
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
}
