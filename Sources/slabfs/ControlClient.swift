#if canImport(Glibc)
import Glibc
#endif
import DCache
import Foundation
import SlabFS
import SystemPackage

/// Talks to a mounted slabfs through its control attributes on the root.
struct ControlClient {
    let mountpoint: String
    /// The mountpoint as an absolute path without symbolic links.
    let resolvedMountpoint: String
    private let root: FileDescriptor

    /// Opens the mount's root; fails with one line when the path is not the
    /// root of a slabfs mount.
    init(mountpoint: String) throws(ControlError) {
        self.mountpoint = mountpoint
        guard let resolved = Self.resolve(mountpoint), Self.isSlabfsMount(resolved) else {
            throw ControlError("'\(mountpoint)' is not the mountpoint of a slabfs mount")
        }
        resolvedMountpoint = resolved
        do {
            root = try FileDescriptor.open(FilePath(mountpoint), .readOnly, options: [.directory])
        } catch {
            throw ControlError("cannot open '\(mountpoint)': \(error)")
        }
    }

    static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// /proc/self/mountinfo lists the path with a fuse.slabfs type.
    static func isSlabfsMount(_ path: String) -> Bool {
        guard let target = resolve(path) else { return false }
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
        for line in text.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            let fields = halves[0].split(separator: " ")
            guard halves.count == 2, fields.count > 4 else { continue }
            let mountPoint = fields[4].replacingOccurrences(of: "\\040", with: " ")
            let type = halves[1].split(separator: " ").first.map(String.init) ?? ""
            if mountPoint == target && type == "fuse.slabfs" { return true }
        }
        return false
    }

    func read(_ name: String) throws(ControlError) -> [UInt8] {
        do {
            return try root.extendedAttribute("user.slabfs." + name)
        } catch {
            throw ControlError("cannot read user.slabfs.\(name) on '\(mountpoint)': \(error)")
        }
    }

    func write(_ name: String, _ value: String) throws(ControlError) {
        do {
            try root.setExtendedAttribute("user.slabfs." + name, to: Array(value.utf8))
        } catch {
            throw ControlError("setting user.slabfs.\(name) to '\(value)' on '\(mountpoint)' failed: \(error)")
        }
    }

    func decode<T: Decodable>(_ type: T.Type, from name: String) throws(ControlError) -> T {
        let bytes = try read(name)
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw ControlError("user.slabfs.\(name) on '\(mountpoint)' is not what this slabfs expects: \(error)")
        }
    }
}

/// A control subcommand's failure: one line, exit status 1.
struct ControlError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
