import Glibc

/// The memory this process may use: the machine's, or less where its
/// memory cgroup (or one above it) sets a lower limit. A default cache
/// budget follows it, as the kernel sizes its own dentry hash by memory.
public enum MemoryLimit {
    /// Bytes: physical memory, or the lowest cgroup limit above the daemon
    /// where that is lower.
    public static func bytes(cgroupFile: String = "/proc/self/cgroup", root: String = "/sys/fs/cgroup") -> Int {
        let physical = sysconf(Int32(_SC_PHYS_PAGES)) * sysconf(Int32(_SC_PAGESIZE))
        guard let limit = cgroupLimitBytes(cgroupFile: cgroupFile, root: root) else { return physical }
        return min(physical, limit)
    }

    /// The lowest memory limit on the path from the daemon's memory cgroup
    /// to the root; nil where there is none to read. "No limit" reads as a
    /// huge number (v1) or is skipped ("max", v2).
    static func cgroupLimitBytes(cgroupFile: String, root: String) -> Int? {
        guard let text = readKernelFile(cgroupFile), let (version, path) = CgroupPressure.ownMemoryCgroup(text) else {
            return nil
        }
        if version == 1 {
            // The controller sums the hierarchy for us.
            guard let stat = readKernelFile(root + "/memory" + path + "/memory.stat") else { return nil }
            return fieldValue(named: "hierarchical_memory_limit", in: stat)
        }
        var lowest: Int?
        var directory = Substring(path)
        while true {
            if let text = readKernelFile(root + directory + "/memory.max"),
               let value = text.split(separator: "\n").first.flatMap({ Int($0) }) {
                lowest = min(lowest ?? value, value)
            }
            guard let slash = directory.lastIndex(of: "/"), !directory.isEmpty, directory != "/" else { break }
            directory = directory[..<slash]
        }
        return lowest
    }

    /// The number after `name ` on its own line of a `key value` file.
    static func fieldValue(named name: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2 && fields[0] == name { return Int(fields[1]) }
        }
        return nil
    }
}
