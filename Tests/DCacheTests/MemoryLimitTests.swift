@testable import DCache
import Glibc
import Testing

@Suite("The memory the daemon may use")
struct MemoryLimitTests {
    let physical = sysconf(Int32(_SC_PHYS_PAGES)) * sysconf(Int32(_SC_PAGESIZE))

    @Test("cgroup v2: the lowest memory.max from the daemon's cgroup up to the root; \"max\" is no limit")
    func version2() throws {
        let root = try FakeCgroupTree()
        root.write("a/memory.max", "max\n")
        root.write("a/b/memory.max", "1073741824\n")
        root.write("self", "0::/a/b\n")
        #expect(MemoryLimit.cgroupLimitBytes(cgroupFile: root.path + "/self", root: root.path) == 1 << 30)
        root.write("a/memory.max", "536870912\n")
        #expect(MemoryLimit.cgroupLimitBytes(cgroupFile: root.path + "/self", root: root.path) == 512 << 20)
        #expect(MemoryLimit.bytes(cgroupFile: root.path + "/self", root: root.path) == min(physical, 512 << 20))
        root.write("a/memory.max", "max\n")
        root.write("a/b/memory.max", "max\n")
        #expect(MemoryLimit.cgroupLimitBytes(cgroupFile: root.path + "/self", root: root.path) == nil)
        #expect(MemoryLimit.bytes(cgroupFile: root.path + "/self", root: root.path) == physical)
    }

    @Test("cgroup v1: memory.stat's hierarchical_memory_limit; unlimited is the machine's memory")
    func version1() throws {
        let root = try FakeCgroupTree()
        root.write("memory/x/memory.stat", "cache 4096\nhierarchical_memory_limit 268435456\nhierarchical_memsw_limit 9223372036854771712\n")
        root.write("self", "9:name=systemd:/\n4:memory:/x\n")
        #expect(MemoryLimit.cgroupLimitBytes(cgroupFile: root.path + "/self", root: root.path) == 256 << 20)
        root.write("memory/x/memory.stat", "hierarchical_memory_limit 9223372036854771712\n")
        #expect(MemoryLimit.bytes(cgroupFile: root.path + "/self", root: root.path) == physical)
    }

    @Test("no cgroup file, or none readable: the machine's memory")
    func noCgroup() {
        #expect(MemoryLimit.bytes(cgroupFile: "/nonexistent/cgroup") == physical)
        #expect(MemoryLimit.bytes() > 0 && MemoryLimit.bytes() <= physical)
    }
}

/// A directory standing in for /sys/fs/cgroup, removed with its files.
private final class FakeCgroupTree {
    let path: String
    private var files: [String] = []

    init() throws {
        var template = Array("/tmp/slabfs-cgroups-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw MemoryLimitTestError.noScratch
        }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func write(_ relative: String, _ text: String) {
        var directory = path
        for part in relative.split(separator: "/").dropLast() {
            directory += "/" + part
            mkdir(directory, 0o755)
        }
        let file = path + "/" + relative
        let descriptor = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(descriptor >= 0, "cannot write \(file)")
        _ = text.withCString { Glibc.write(descriptor, $0, strlen($0)) }
        close(descriptor)
        if !files.contains(file) { files.append(file) }
    }

    deinit {
        files.forEach { unlink($0) }
        // Deepest directories first.
        var directories = Set<String>()
        for file in files {
            var directory = Substring(file)
            while let slash = directory.lastIndex(of: "/"), directory.count > path.count {
                directory = directory[..<slash]
                if directory.count > path.count { directories.insert(String(directory)) }
            }
        }
        directories.sorted { $0.count > $1.count }.forEach { rmdir($0) }
        rmdir(path)
    }
}

private enum MemoryLimitTestError: Error { case noScratch }
