import CSlabSupport
import CFuse
import DCache
import Glibc
import SystemPackage

/// The thread that turns the backing filesystem's events into invalidations,
/// of our cache and of the kernel's.
///
/// It reads the fanotify group in batches (one read drains up to 256 KiB of
/// events), finds what each event names in the cache, and acts on the batch:
/// first our cache (a changed name's dentry goes, the attributes of the
/// changed object and of the directory whose entries changed are made
/// stale), then the kernel (inval_entry for the name, inval_inode for the
/// object, and for the directory, which also drops the listing the kernel
/// kept). Only what the kernel holds is notified. Its own thread: a
/// notification takes the directory's lock in the kernel, which a request in
/// flight may hold while it waits for its reply, so it must never come from
/// a request handler or with a cache lock held (none is: the cache calls
/// return before the kernel is told).
///
/// Finding an object: an event names it by file handle. The handle's inode
/// number gives its (device, inode) identity, read from the handle itself
/// where the filesystem's handles are FILEID_INO32_GEN (ext4, xfs), else by
/// open_by_handle_at and fstat (remembered for the next event about it);
/// the identity table then gives the node, and the node's stored handle must
/// equal the event's (a reused inode number has a new generation). An event
/// about something not cached costs that and nothing else.
///
/// Events caused by the daemon itself are skipped: the request that made the
/// change updated both caches. Lost events (FAN_Q_OVERFLOW, a read error)
/// make everything cached stale at once, ours and the kernel's.
final class EventWatcher: @unchecked Sendable {
    private let watch: BackingWatch
    private unowned let cache: DirectoryCache
    private let coherence: Coherence
    private let ownProcess = getpid()
    /// Whether the kernel does (or did a moment ago) the node's I/O itself
    /// (passthrough): its writes come with the user's pid but need only an
    /// attribute refresh, since no data of it sits in the kernel's page
    /// cache, and the close of its backing file (CLOSE_WRITE with nothing
    /// else) needs nothing from the kernel, which wrote through it.
    private let inPassthrough: @Sendable (NodeID) -> Bool
    /// Told of every node whose attributes changed behind the mount (its
    /// mode may now allow exec or carry set-id bits): passthrough drops
    /// an idle registration of it.
    private let attributesChanged: @Sendable (NodeID) -> Void
    /// Reads the attributes of written files again in idle time.
    let refresher: AttributeRefresher
    /// Written to stop the thread.
    private let wakeUp: (read: CInt, write: CInt)
    private var thread: pthread_t?
    private var session: OpaquePointer?
    /// Identities of handles decoded by system call, for the next event.
    private var identities: [BackingFileHandle: BackingIdentity] = [:]
    private static let rememberedIdentities = 4096
    /// 2 ms: at most 500 wake-ups a second, well inside the 50 ms a change
    /// behind the mount may take to show.
    private static let gatherMicroseconds: UInt32 = 2_000

    init(watch: BackingWatch, cache: DirectoryCache, coherence: Coherence,
         inPassthrough: @escaping @Sendable (NodeID) -> Bool,
         attributesChanged: @escaping @Sendable (NodeID) -> Void = { _ in }) {
        self.inPassthrough = inPassthrough
        self.attributesChanged = attributesChanged
        refresher = AttributeRefresher(coherence: coherence)
        self.watch = watch
        self.cache = cache
        self.coherence = coherence
        var ends: [CInt] = [-1, -1]
        if pipe(&ends) == 0 {
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        }
        wakeUp = (ends[0], ends[1])
    }

    /// Starts the thread for `session`, with every signal blocked in it.
    func start(session: OpaquePointer) {
        self.session = session
        // Without its wake-up pipe the thread could not be stopped at unmount.
        guard wakeUp.read >= 0 else {
            logError("cannot start the event watcher: no wake-up pipe; back to timeouts")
            coherence.errors.add(1, ordering: .relaxed)
            coherence.watcherFailed.store(true, ordering: .relaxed)
            return
        }
        switch startBackgroundThread({ self.run() }) {
        case .success(let thread):
            self.thread = thread
            refresher.start()
        case .failure(let error):
            logError("cannot start the event watcher: \(error); back to timeouts")
            coherence.errors.add(1, ordering: .relaxed)
            coherence.watcherFailed.store(true, ordering: .relaxed)
        }
    }

    /// Stops and joins the thread, then closes the group; call before the
    /// session is destroyed.
    func stop() {
        if let thread {
            var byte: UInt8 = 1
            _ = write(wakeUp.write, &byte, 1)
            pthread_join(thread, nil)
            self.thread = nil
        }
        refresher.stop()
        watch.close()
        if wakeUp.read >= 0 {
            try? FileDescriptor(rawValue: wakeUp.read).close()
            try? FileDescriptor(rawValue: wakeUp.write).close()
        }
    }

    fileprivate func run() {
        let bufferSize = 256 << 10
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 8)
        defer { buffer.deallocate() }
        var descriptors = [pollfd(fd: watch.descriptor, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: wakeUp.read, events: Int16(POLLIN), revents: 0)]
        while true {
            descriptors[0].revents = 0
            descriptors[1].revents = 0
            // Nodes the refresher's lock refused a moment ago go over soon.
            let timeout: CInt = refresher.isHoldingNodes ? 10 : -1
            guard poll(&descriptors, 2, timeout) >= 0 || errno == EINTR else {
                // No more events will be read: what is cached from now on
                // may go stale unseen.
                coherence.errors.add(1, ordering: .relaxed)
                logError("event watcher: poll: \(String(cString: strerror(errno))); back to timeouts")
                coherence.watcherFailed.store(true, ordering: .relaxed)
                invalidateEverything()
                return
            }
            if descriptors[1].revents != 0 { return }
            // Drain the queue; after lost events, one invalidation of
            // everything once it is empty, not one per read while the
            // changes that overflowed it go on.
            var lostEvents = false
            while true {
                let count = read(watch.descriptor, buffer.baseAddress, bufferSize)
                if count > 0 {
                    let events = BackingEvent.parse(UnsafeRawBufferPointer(rebasing: buffer[..<count]),
                                                    skippedProcess: ownProcess)
                    lostEvents = handle(events,
                                        afterLoss: lostEvents)
                    continue
                }
                if count < 0 && errno != EAGAIN && errno != EINTR {
                    coherence.errors.add(1, ordering: .relaxed)
                    logError("event watcher: reading events: \(String(cString: strerror(errno)))")
                    lostEvents = true
                }
                break
            }
            if lostEvents { invalidateEverything() }
            if refresher.isHoldingNodes { refresher.enqueue(EmptyCollection()) }
            // Gather the next batch for a moment rather than waking for
            // every event: each of the daemon's own changes makes one, and a
            // wake-up per request would compete with the request thread for
            // the core. A change shows this much later at most.
            usleep(Self.gatherMicroseconds)
        }
    }

    /// What one batch asks for, deduplicated.
    private struct Batch {
        var names: [EntryName] = []
        var seenNames: Set<EntryName> = []
        var directories: Set<NodeID> = []
        var objects: [NodeID: ObjectChange] = [:]
        var overflow = false

        mutating func addName(_ parent: NodeID, _ name: [UInt8]) {
            let entry = EntryName(parent: parent, name: name)
            if seenNames.insert(entry).inserted { names.append(entry) }
            directories.insert(parent)
        }

        mutating func addObject(_ node: NodeID, _ change: ObjectChange) {
            objects[node] = objects[node].map { $0.merged(with: change) } ?? change
        }
    }

    /// Acts on one read's events, unless events were lost (`afterLoss`, or
    /// an overflow among these): then everything is to be made stale once
    /// the queue is drained, which covers them. Returns whether events were
    /// lost.
    func handle(_ events: [BackingEvent], afterLoss: Bool) -> Bool {
        var batch = Batch()
        var own = 0
        for event in events {
            if event.isOverflow {
                batch.overflow = true
                continue
            }
            if event.pid == ownProcess {
                own += 1
                continue
            }
            guard let id = event.fileSystem, let fileSystem = watch.fileSystems[id] else { continue }
            if event.changesEntry, let directory = event.directory, let name = event.entryName,
               let parent = node(of: directory, on: fileSystem) {
                batch.addName(parent, name)
            }
            // A removed object's handle no longer opens: its name says enough.
            if event.changesObject, let object = event.object, let node = node(of: object, on: fileSystem) {
                batch.addObject(node, ObjectChange(event))
            }
        }
        coherence.events.add(events.count, ordering: .relaxed)
        coherence.ownEvents.add(own, ordering: .relaxed)
        if batch.overflow || afterLoss { return true }
        apply(batch)
        return false
    }

    private func apply(_ batch: Batch) {
        var objects = batch.objects
        // Our cache first, so that a lookup the kernel sends after its
        // notification finds nothing stale here.
        for name in batch.names {
            // The node the name led to lost a link or moved: its ctime and
            // link count changed.
            if let child = cache.invalidateChanged(parent: name.parent, name: name.name), objects[child] == nil {
                objects[child] = ObjectChange(data: false, onlyClosed: false, attributes: true)
            }
        }
        for directory in batch.directories { cache.invalidateAttributes(directory) }
        for (node, change) in objects {
            cache.invalidateAttributes(node)
            if change.attributes { attributesChanged(node) }
        }
        refresher.enqueue(objects.lazy.filter { $0.value.data }.map(\.key))
        coherence.namesInvalidated.add(batch.names.count, ordering: .relaxed)
        coherence.nodesInvalidated.add(batch.directories.count + objects.count, ordering: .relaxed)
        guard let session else { return }
        var sent = 0
        for name in batch.names where kernelHolds(name.parent) {
            if notifyEntry(session, name) { sent += 1 }
        }
        // A directory's inval_inode drops its attributes and its kept
        // listing (inval_entry alone does neither for a name the kernel
        // never looked up).
        for directory in batch.directories where kernelHolds(directory) {
            if fuse_lowlevel_notify_inval_inode(session, directory.rawValue, 0, 0) == 0 { sent += 1 }
        }
        for (node, change) in objects where !batch.directories.contains(node) && kernelHolds(node) {
            let passthrough = inPassthrough(node)
            if change.onlyClosed && passthrough { continue }
            // Offset -1: attributes only; 0 with length 0: the cached data too.
            let offset: off_t = change.data && !passthrough ? 0 : -1
            if fuse_lowlevel_notify_inval_inode(session, node.rawValue, offset, 0) == 0 { sent += 1 }
        }
        coherence.kernelNotifications.add(sent, ordering: .relaxed)
    }

    /// Events were lost: nothing cached may be trusted, here or in the
    /// kernel. Our cache's names and attributes all turn stale; the kernel
    /// drops every name at once where it can (FUSE_NOTIFY_INC_EPOCH, Linux
    /// 6.16), else each name in a directory it holds, and the attributes,
    /// data and listings of every inode it holds.
    private func invalidateEverything() {
        coherence.overflows.add(1, ordering: .relaxed)
        if coherence.overflows.load(ordering: .relaxed) == 1 {
            logError("backing events were lost (fanotify queue overflow): everything cached is made stale")
        }
        cache.expireAll()
        guard let session else { return }
        var sent = 0
        if incrementEpoch(session) {
            coherence.epochBumps.add(1, ordering: .relaxed)
        } else {
            for name in cache.namesInKernelHeldDirectories() where notifyEntry(session, name) { sent += 1 }
        }
        for node in [NodeID.root] + cache.kernelHeldNodes()
        where fuse_lowlevel_notify_inval_inode(session, node.rawValue, 0, 0) == 0 {
            sent += 1
        }
        coherence.kernelNotifications.add(sent, ordering: .relaxed)
    }


    /// The root is the kernel's from mount to unmount, without a lookup.
    private func kernelHolds(_ node: NodeID) -> Bool { node == .root || (cache.kernelLookups(of: node) ?? 0) > 0 }

    private func notifyEntry(_ session: OpaquePointer, _ name: EntryName) -> Bool {
        notifyInvalidEntry(session, parent: name.parent, name: name.name) == 0
    }

    /// FUSE_NOTIFY_INC_EPOCH (8; Linux 6.16, no body): every name the kernel
    /// holds is looked up again at its next use. libfuse 3.14 has no call
    /// for it; a notification is a bare fuse_out_header written to the
    /// device. An older kernel refuses it (EINVAL).
    private func incrementEpoch(_ session: OpaquePointer) -> Bool {
        // struct fuse_out_header: len u32, error s32 (the notify code), unique u64 (0).
        var header: (UInt32, Int32, UInt64) = (16, 8, 0)
        return write(fuse_session_fd(session), &header, 16) == 16
    }

    /// The cached node `handle` names on `fileSystem`, if any.
    private func node(of handle: BackingFileHandle, on fileSystem: BackingWatch.WatchedFileSystem) -> NodeID? {
        guard let identity = identity(of: handle, on: fileSystem) else { return nil }
        return cache.node(identity: identity, handle: handle)
    }

    private func identity(of handle: BackingFileHandle, on fileSystem: BackingWatch.WatchedFileSystem) -> BackingIdentity? {
        if fileSystem.inodeNumberHandles && handle.type == 1 && handle.bytes.count == 8 {
            let inode = handle.bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            return BackingIdentity(device: fileSystem.device, inode: UInt64(UInt32(littleEndian: inode)))
        }
        if let known = identities[handle] { return known }
        guard let backingHandle = BackingHandle(type: handle.type, bytes: handle.bytes),
              let descriptor = try? backingHandle.open(mount: fileSystem.mount, flags: LINUX_O_PATH)
        else { return nil }
        defer { try? descriptor.close() }
        guard let status = try? descriptor.statDescriptor().rawValue else { return nil }
        let identity = BackingIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        if identities.count >= Self.rememberedIdentities { identities.removeAll(keepingCapacity: true) }
        identities[handle] = identity
        return identity
    }
}

/// What happened to an object's attributes or data in one batch.
private struct ObjectChange {
    /// Its data changed (or may have: a close after writing).
    var data: Bool
    /// Nothing but the close of a file opened for writing (CLOSE_WRITE).
    var onlyClosed: Bool
    /// Its attributes changed (ATTRIB), or its link count.
    var attributes: Bool

    init(data: Bool, onlyClosed: Bool, attributes: Bool) {
        self.data = data
        self.onlyClosed = onlyClosed
        self.attributes = attributes
    }

    init(_ event: BackingEvent) {
        data = event.changesData
        onlyClosed = event.mask & BackingEvent.objectChanges == UInt64(FAN_CLOSE_WRITE)
        attributes = event.mask & UInt64(FAN_ATTRIB) != 0
    }

    func merged(with other: ObjectChange) -> ObjectChange {
        ObjectChange(data: data || other.data, onlyClosed: onlyClosed && other.onlyClosed,
                     attributes: attributes || other.attributes)
    }
}
