import CFuse
import Glibc
import Synchronization

/// What libfuse 3.14 cannot ask the kernel for at INIT, asked for here.
///
/// libfuse 3.14 builds its INIT reply from 32-bit capabilities only, so it
/// cannot set FUSE_PASSTHROUGH (bit 37 of the 64-bit flags: bit 5 of
/// `flags2`, Linux 6.9) or FUSE_HANDLE_KILLPRIV_V2 (bit 28), nor
/// `max_stack_depth`. It does let the daemon supply the read and writev of
/// /dev/fuse (`fuse_session_custom_io`): the read hook notes the INIT
/// request (its `unique`, and which of the two bits the kernel offers), and
/// the writev hook adds them to that one reply on its way to the kernel.
/// Every other request and reply passes through untouched. This is the
/// whole workaround; libfuse 3.17 asks for passthrough itself.
final class InitNegotiation: Sendable {
    /// Whether to ask at all (`--passthrough` is not off, and the probe
    /// before mounting passed).
    let wantsPassthrough: Bool
    private let initUnique = Atomic<UInt64>(0)
    private let offered = Atomic<Int>(0)
    /// Whether the kernel took passthrough (set once the reply is written).
    let negotiated = Atomic<Bool>(false)

    private static let opcodeInit: UInt32 = 26
    private static let passthroughBit: UInt32 = 1 << 5  // in flags2
    private static let killPrivilegeV2Bit: UInt32 = 1 << 28  // in flags
    private static let initExtension: UInt32 = 1 << 30  // FUSE_INIT_EXT, in flags
    // fuse_in_header is 40 bytes; fuse_init_in: major, minor,
    // max_readahead, flags, flags2 (u32 each).
    private static let initInFlags = 40 + 12
    private static let initInFlags2 = 40 + 16
    // fuse_out_header: len u32, error s32, unique u64; fuse_init_out: flags
    // at 12, flags2 at 32, max_stack_depth at 36.
    private static let initOutFlags = 12
    private static let initOutFlags2 = 32
    private static let initOutStackDepth = 36

    init(wantsPassthrough: Bool) {
        self.wantsPassthrough = wantsPassthrough
    }

    /// Installs the hooks on a mounted session, before its loop reads INIT;
    /// they find the negotiation through the session's filesystem.
    static func install(on session: OpaquePointer) -> Bool {
        var io = fuse_custom_io()
        io.read = negotiationRead
        io.writev = negotiationWritev
        return fuse_session_custom_io(session, &io, fuse_session_fd(session)) == 0
    }

    fileprivate func noteRequest(_ buffer: UnsafeRawPointer, count: Int) {
        guard count >= Self.initInFlags2 + 4, buffer.loadUnaligned(fromByteOffset: 4, as: UInt32.self) == Self.opcodeInit
        else { return }
        let flags = buffer.loadUnaligned(fromByteOffset: Self.initInFlags, as: UInt32.self)
        let flags2 = buffer.loadUnaligned(fromByteOffset: Self.initInFlags2, as: UInt32.self)
        // Both need the 64-bit flags (FUSE_INIT_EXT).
        guard flags & Self.initExtension != 0, flags2 & Self.passthroughBit != 0,
              flags & Self.killPrivilegeV2Bit != 0 else { return }
        offered.store(1, ordering: .relaxed)
        initUnique.store(buffer.loadUnaligned(fromByteOffset: 8, as: UInt64.self), ordering: .relaxed)
    }

    fileprivate func patchReply(_ vector: UnsafeMutablePointer<iovec>, count: Int) {
        guard wantsPassthrough, offered.load(ordering: .relaxed) == 1, count >= 2,
              let header = vector[0].iov_base, vector[0].iov_len >= 16,
              header.loadUnaligned(fromByteOffset: 8, as: UInt64.self) == initUnique.load(ordering: .relaxed),
              header.loadUnaligned(fromByteOffset: 4, as: Int32.self) == 0,
              let body = vector[1].iov_base, vector[1].iov_len >= Self.initOutStackDepth + 4 else { return }
        initUnique.store(0, ordering: .relaxed)
        let flags = body.loadUnaligned(fromByteOffset: Self.initOutFlags, as: UInt32.self)
        // libfuse echoes FUSE_INIT_EXT when the kernel sent it; without it
        // the kernel would not read flags2.
        guard flags & Self.initExtension != 0 else { return }
        body.storeBytes(of: flags | Self.killPrivilegeV2Bit, toByteOffset: Self.initOutFlags, as: UInt32.self)
        let flags2 = body.loadUnaligned(fromByteOffset: Self.initOutFlags2, as: UInt32.self)
        body.storeBytes(of: flags2 | Self.passthroughBit, toByteOffset: Self.initOutFlags2, as: UInt32.self)
        // Backing files on a plain filesystem: one level of stacking.
        body.storeBytes(of: UInt32(1), toByteOffset: Self.initOutStackDepth, as: UInt32.self)
        negotiated.store(true, ordering: .relaxed)
    }
}

private func negotiation(_ userdata: UnsafeMutableRawPointer?) -> InitNegotiation? {
    guard let userdata else { return nil }
    return Unmanaged<SessionContext>.fromOpaque(userdata).takeUnretainedValue().fileSystem?.passthrough.negotiation
}

private func negotiationRead(_ descriptor: CInt, _ buffer: UnsafeMutableRawPointer?, _ length: Int,
                             _ userdata: UnsafeMutableRawPointer?) -> Int {
    let count = read(descriptor, buffer, length)
    if count > 0, let buffer, let negotiation = negotiation(userdata) {
        let saved = errno
        negotiation.noteRequest(buffer, count: count)
        errno = saved
    }
    return count
}

private func negotiationWritev(_ descriptor: CInt, _ vector: UnsafeMutablePointer<iovec>?, _ count: CInt,
                               _ userdata: UnsafeMutableRawPointer?) -> Int {
    if let vector, let negotiation = negotiation(userdata) { negotiation.patchReply(vector, count: Int(count)) }
    return writev(descriptor, vector, count)
}
