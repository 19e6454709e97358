import Dispatch
import Glibc
import Slab
@testable import SlabFS
import SystemPackage
import Testing

@Suite("Per-thread credentials")
struct BackingCredentialsTests {
    @Test("credentials apply to the calling thread only: a file created as nobody is owned by nobody while another thread still runs as root")
    func callingThreadOnly() throws {
        try withBackingScratch { scratch in
            let root = scratch.root.rawValue
            let inside = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
            let result = Locked<Result<Stat, Errno>?>(nil)
            var thread = pthread_t()
            let started = startBackingTestThread(&thread) {
                let outcome = Result { () throws(Errno) -> Stat in
                    try nobodyCredentials.run { () throws(Errno) -> Stat in
                        let stat = try BackingScratch.create("by-nobody", in: FileDescriptor(rawValue: root))
                        inside.signal()
                        done.wait()  // stay nobody while the test thread works
                        return stat
                    }
                }
                result.withLock { $0 = outcome }
                inside.signal()
            }
            #expect(started)
            inside.wait()
            // The other thread is nobody right now; this one is still root.
            let mine = try BackingScratch.create("by-root", in: scratch.root)
            #expect(mine.userID == UserID(rawValue: 0))
            #expect(try Credentials.ofCallingThread().user == UserID(rawValue: 0))
            done.signal()
            pthread_join(thread, nil)

            let theirs = try #require(result.withLock { $0 }).get()
            #expect(theirs.userID == UserID(rawValue: 65534))
            #expect(theirs.groupID == GroupID(rawValue: 65534))
        }
    }

    @Test("the thread's own credentials are restored after the body returns and after it throws")
    func restored() throws {
        let before = try Credentials.ofCallingThread()
        let user = try nobodyCredentials.run { () throws(Errno) in try Credentials.ofCallingThread() }
        #expect(user == nobodyCredentials)
        #expect(try Credentials.ofCallingThread() == before)
        #expect(throws: Errno.ioError) {
            try nobodyCredentials.run { () throws(Errno) in throw Errno.ioError }
        }
        #expect(try Credentials.ofCallingThread() == before)
    }

    @Test("permission checks use the switched identity: nobody gets EACCES in a root-owned 0755 directory")
    func permissionChecks() throws {
        try withBackingScratch { scratch in
            try scratch.root.makeDirectory("private", permissions: [.ownerReadWriteExecute, .otherReadExecute])
            let dir = try scratch.root.openPath("private")
            defer { try? dir.close() }
            #expect(throws: Errno.permissionDenied) {
                try nobodyCredentials.run { () throws(Errno) in try BackingScratch.create("x", in: dir) }
            }
            #expect(try scratch.names() == ["private"])
        }
    }

    @Test("supplementary groups grant access on the calling thread only")
    func supplementaryGroups() throws {
        try withBackingScratch { scratch in
            let staff = GroupID(rawValue: 4242)
            try scratch.root.makeDirectory("shared", permissions: .ownerReadWriteExecute)
            let dir = try scratch.root.openPath("shared")
            defer { try? dir.close() }
            try dir.setOwner(user: nil, group: staff)
            try dir.setPermissions([.ownerReadWriteExecute, .groupReadWriteExecute])

            var member = nobodyCredentials
            member.supplementaryGroups = [staff]
            // A thread already running: it must keep the daemon's groups.
            let go = DispatchSemaphore(value: 0), reported = DispatchSemaphore(value: 0)
            let othersGroups = Locked<[GroupID]?>(nil)
            var other = pthread_t()
            #expect(startBackingTestThread(&other) {
                go.wait()
                let groups = try? Credentials.ofCallingThread().supplementaryGroups
                othersGroups.withLock { $0 = groups }
                reported.signal()
            })
            let stat = try member.run { () throws(Errno) -> Stat in
                go.signal()
                reported.wait()
                return try BackingScratch.create("by-member", in: dir)
            }
            pthread_join(other, nil)
            let groups = try #require(othersGroups.withLock { $0 })
            #expect(!groups.contains(staff))
            #expect(stat.userID == UserID(rawValue: 65534))
            #expect(!(try Credentials.ofCallingThread().supplementaryGroups.contains(staff)))
            #expect(throws: Errno.permissionDenied) {
                try nobodyCredentials.run { () throws(Errno) in try BackingScratch.create("x", in: dir) }
            }
        }
    }

    @Test("open_by_handle_at fails with EPERM while the thread runs as another user: open by handle first")
    func handlesNeedRoot() throws {
        try withBackingScratch { scratch in
            try scratch.makeFile("file", permissions: [.ownerReadWrite, .otherRead])
            let handle = try scratch.backing.handle(of: "file", in: scratch.root)
            #expect(throws: Errno.notPermitted) {
                try nobodyCredentials.run { () throws(Errno) in
                    try scratch.backing.open(handle, .readOnly)
                }
            }
            let path = try scratch.backing.open(handle, .readOnly, options: .path)
            defer { try? path.close() }
            let reopened = try nobodyCredentials.run { () throws(Errno) in try path.reopen(.readOnly) }
            try reopened.close()
        }
    }

    @Test("a thread started inside run inherits the switched credentials, as clone copies them")
    func childThreadsInherit() throws {
        let seen = Locked<Credentials?>(nil)
        try nobodyCredentials.run { () throws(Errno) in
            runOnBackingTestThread { seen.withLock { $0 = try? Credentials.ofCallingThread() } }
        }
        #expect(seen.withLock { $0 } == nobodyCredentials)
    }

    @Test("a hard link from an O_PATH descriptor works as another user, through /proc")
    func linkAsUser() throws {
        try withBackingScratch { scratch in
            let stat = try nobodyCredentials.run { () throws(Errno) in
                try BackingScratch.create("mine", in: scratch.root)
            }
            let fd = try scratch.root.openPath("mine")
            defer { try? fd.close() }
            try nobodyCredentials.run { () throws(Errno) in try fd.link(into: scratch.root, as: "also-mine") }
            #expect(try scratch.root.stat("also-mine").inode == stat.inode)
        }
    }
}

extension BackingScratch {
    /// Creates an empty file with typed errors, for use inside `Credentials.run`.
    static func create(_ name: BackingName, in directory: FileDescriptor) throws(Errno) -> Stat {
        let fd = try directory.open(
            name, .writeOnly, options: [.create, .exclusiveCreate], permissions: .ownerReadWrite)
        defer { _ = Glibc.close(fd.rawValue) }
        return try fd.statDescriptor()
    }
}

/// Starts `body` on a new POSIX thread; join `thread` afterwards.
func startBackingTestThread(_ thread: inout pthread_t, _ body: @escaping @Sendable () -> Void) -> Bool {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    return pthread_create(&thread, nil, { @Sendable raw in
        Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, box) == 0
}
