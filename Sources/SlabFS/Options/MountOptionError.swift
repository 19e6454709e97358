/// Why a mount command line was refused. `message` is one line that names the
/// problem (paths and values are quoted with control characters escaped, so
/// even a file name with a newline cannot split it); the CLI prints it after
/// "slabfs: ".
public struct MountOptionError: Error, Equatable, CustomStringConvertible {
    public enum Problem: Sendable, Equatable {
        case missingSource, missingMountpoint
        case sourceInaccessible, sourceNotDirectory
        case mountpointInaccessible, mountpointNotDirectory
        /// Something is already mounted there (or a dead FUSE mount lingers).
        case mountpointBusy
        /// The mountpoint lies inside the source: the daemon would call into itself.
        case mountpointInsideSource
        /// `/dev/fd/N` was given but N is not an open descriptor.
        case badFileDescriptor
        /// A setting's value is malformed or out of range.
        case invalidValue
        /// Two settings that cannot go together.
        case conflictingValues
        case unknownOption
        case missingOptionValue
        case unexpectedOptionValue
        /// A known option that slabfs deliberately does not take.
        case unsupportedOption
        case fuseDeviceUnavailable
    }

    public var problem: Problem
    public var message: String

    public init(_ problem: Problem, _ message: String) {
        self.problem = problem
        self.message = message
    }

    public var description: String { message }

    /// The process exit status: 69 (EX_UNAVAILABLE) when the system lacks
    /// FUSE, 64 (EX_USAGE, as ArgumentParser uses) for everything else.
    public var exitCode: Int32 { problem == .fuseDeviceUnavailable ? 69 : 64 }
}

/// `'text'` with control characters escaped, to keep messages on one line.
func quoted(_ text: String) -> String {
    var result = "'"
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": result += "\\n"
        case "\t": result += "\\t"
        case "\r": result += "\\r"
        case _ where scalar.value < 0x20 || scalar.value == 0x7f:
            result += "\\x" + String(scalar.value, radix: 16, uppercase: false)
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "'"
}
