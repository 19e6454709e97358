import CFuse
import CSlabSupport

/// Requests the one-thread loop received, by FUSE opcode (the
/// `fuse_in_header` at the start of each): `requests` in
/// `user.slabfs.stats`, so that a benchmark can tell how many round trips a
/// workload cost without a debug trace. Only the loop's thread counts;
/// readers load each counter atomically.
final class RequestCounts: @unchecked Sendable {
    private static let slots = 64
    private let counts: UnsafeMutablePointer<UInt64>

    init() {
        counts = .allocate(capacity: Self.slots)
        counts.initialize(repeating: 0, count: Self.slots)
    }

    deinit { counts.deallocate() }

    /// Counts the request in a buffer `fuse_session_receive_buf` filled.
    @inline(__always)
    func count(_ buffer: fuse_buf) {
        // fuse_in_header: len u32, opcode u32, ...; opcodes past the table
        // (CUSE's) share its last slot.
        guard let memory = buffer.mem, buffer.size >= 8 else { return }
        let opcode = Int(memory.load(fromByteOffset: 4, as: UInt32.self))
        let slot = counts + min(opcode, Self.slots - 1)
        slab_store_u64(slot, slab_load_u64(slot, Int32(SLAB_RELAXED)) &+ 1, Int32(SLAB_RELAXED))
    }

    /// Counts by request name (lower case, as in fuse_kernel.h), every name
    /// always (so the JSON keeps its shape), with `total`; an opcode without
    /// a name counts under `other`.
    var snapshot: [String: Int] {
        var result = Dictionary(uniqueKeysWithValues: Self.names.values.map { ($0, 0) })
        var total = 0
        for slot in 0..<Self.slots {
            let count = Int(slab_load_u64(counts + slot, Int32(SLAB_RELAXED)))
            total += count
            result[Self.names[slot] ?? "other", default: 0] += count
        }
        result["total"] = total
        return result
    }

    private static let names: [Int: String] = [
        1: "lookup", 2: "forget", 3: "getattr", 4: "setattr", 5: "readlink", 6: "symlink", 8: "mknod", 9: "mkdir",
        10: "unlink", 11: "rmdir", 12: "rename", 13: "link", 14: "open", 15: "read", 16: "write", 17: "statfs",
        18: "release", 20: "fsync", 21: "setxattr", 22: "getxattr", 23: "listxattr", 24: "removexattr", 25: "flush",
        26: "init", 27: "opendir", 28: "readdir", 29: "releasedir", 30: "fsyncdir", 31: "getlk", 32: "setlk",
        33: "setlkw", 34: "access", 35: "create", 36: "interrupt", 37: "bmap", 38: "destroy", 39: "ioctl",
        40: "poll", 41: "notify_reply", 42: "batch_forget", 43: "fallocate", 44: "readdirplus", 45: "rename2",
        46: "lseek", 47: "copy_file_range", 48: "setupmapping", 49: "removemapping", 50: "syncfs", 51: "tmpfile",
        52: "statx", 63: "other",
    ]
}
