import CSlabSupport
import DCache
import DequeModule
import Glibc

/// A thread that reads again, while the machine has nothing else to do, the
/// attributes the event watcher marked stale after a file's data changed.
///
/// Every close of a file opened for writing makes a CLOSE_WRITE event, and
/// the watcher must mark the file's cached attributes stale: the event does
/// not say whether the kernel wrote it on a user's behalf (passthrough) or
/// another program wrote the backing file (an mmap write shows only
/// through that event). The kernel keeps the entry for an hour and mostly
/// never asks; but once it has forgotten the file (drop_caches, memory
/// pressure, its cache limit) the first lookup would read the attributes
/// again by name, on the request path, in a backing filesystem whose own
/// caches may have gone meanwhile. Reading them here, at nice 19, costs the
/// request path nothing, and CPU mostly where a core is idle.
///
/// Nice 19, not SCHED_IDLE: the refresher takes the cache's locks (briefly),
/// and a request thread waiting for one it was preempted in must not wait
/// for a core nothing else wants. Nor does the watcher ever wait for it:
/// it hands nodes over only when the queue's lock is free at once.
///
/// Correctness does not depend on it: what is read is stored with the
/// attribute stamp taken before the read, so an invalidation that came
/// meanwhile leaves it stale, and a change after the read makes an event of
/// its own. A node evicted, open in passthrough (every lookup reads it
/// then) or fresh again by the time its turn comes is skipped; a node id
/// reused meanwhile is read as the file it now names, by its own handle.
final class AttributeRefresher: @unchecked Sendable {
    private let lock = ConditionLock()
    // Under `lock`:
    private var queue = Deque<NodeID>()
    private var queued: Set<NodeID> = []
    private var stopping = false
    private var thread: pthread_t?
    /// The watcher's thread only: nodes not yet in `queue`.
    private var awaitingHandOver: [NodeID] = []

    /// Reads the node's attributes again if it still needs it. Set once,
    /// before `start`.
    var refresh: (@Sendable (NodeID) -> AttributeRefresh)?
    private let coherence: Coherence

    /// Nodes waiting at most: beyond it a change is left to the lookup
    /// that needs it (a burst of writes behind the mount is not worth
    /// holding on to).
    static let queueLimit = 65_536
    static let attemptsPerNode = 3
    /// Nodes' room kept between bursts (a few tens of KB at most).
    static let keptCapacity = 1024

    init(coherence: Coherence) {
        self.coherence = coherence
    }

    private func locked<R>(_ body: () -> R) -> R { lock.locked(body) }

    func start() {
        switch startBackgroundThread({ self.run() }) {
        case .success(let thread): locked { self.thread = thread }
        case .failure(let error): logError("cannot start the attribute refresher: \(error)")
        }
    }

    func stop() {
        let thread: pthread_t? = locked {
            stopping = true
            lock.broadcast()
            return self.thread
        }
        if let thread { pthread_join(thread, nil) }
        locked { self.thread = nil }
    }

    /// Queues nodes whose attributes were just marked stale. One thread
    /// only (the event watcher's): never waits for the refresher, which
    /// may hold the lock at a low priority; what it cannot hand over now
    /// waits in `awaitingHandOver` for its next call.
    func enqueue<Nodes: Sequence>(_ nodes: Nodes) where Nodes.Element == NodeID {
        for node in nodes {
            guard awaitingHandOver.count < Self.queueLimit else {
                coherence.refreshesDropped.add(1, ordering: .relaxed)
                continue
            }
            awaitingHandOver.append(node)
        }
        guard !awaitingHandOver.isEmpty else { return }
        let dropped: Int? = lock.lockedIfFree {
            var dropped = 0
            for node in awaitingHandOver {
                guard queue.count < Self.queueLimit else {
                    dropped += 1
                    continue
                }
                if queued.insert(node).inserted { queue.append(node) }
            }
            lock.broadcast()
            return dropped
        }
        guard let dropped else { return }
        awaitingHandOver.removeAll(keepingCapacity: awaitingHandOver.count <= Self.keptCapacity)
        if dropped > 0 { coherence.refreshesDropped.add(dropped, ordering: .relaxed) }
    }

    /// The watcher's thread only: whether nodes wait to be handed over
    /// (then it calls `enqueue` again soon, with none of its own).
    var isHoldingNodes: Bool { !awaitingHandOver.isEmpty }

    fileprivate func run() {
        if linux_set_thread_nice(19) != 0 {
            // Then at normal priority: still off the request path.
            logError("attribute refresher: nice 19 refused (\(String(cString: strerror(errno))))")
        }
        while true {
            let batch: [NodeID]? = locked {
                while queue.isEmpty && !stopping { lock.wait() }
                if stopping { return nil }
                // Small batches: a node queued again while its turn is near
                // is read once.
                let count = min(queue.count, 64)
                let batch = Array(queue.prefix(count))
                queue.removeFirst(count)
                for node in batch { queued.remove(node) }
                // A burst's room goes back once it is worked off.
                if queue.isEmpty && queued.capacity > Self.keptCapacity {
                    queue = Deque()
                    queued = []
                }
                return batch
            }
            guard let batch, let refresh else { return }
            var refreshed = 0
            for node in batch {
                // An invalidation anywhere while the read was under way (a
                // create invalidates its directory's attributes) leaves what
                // was read stale: read again, a few times.
                var outcome = refresh(node)
                for _ in 1..<Self.attemptsPerNode where outcome == .overtaken { outcome = refresh(node) }
                if outcome == .stored { refreshed += 1 }
            }
            coherence.attributesRefreshed.add(refreshed, ordering: .relaxed)
        }
    }
}

/// What became of one node's turn at the refresher.
enum AttributeRefresh {
    /// Read and stored fresh.
    case stored
    /// Not needed or not possible: gone, fresh already, open in
    /// passthrough, not a regular file, or its backing file gone.
    case skipped
    /// Read, but an invalidation came meanwhile: stored stale.
    case overtaken
}

extension FileSystem {
    /// The refresher's work for one node: its attributes read through its
    /// handle and stored, if it is a cached regular file whose attributes
    /// are stale and that is not open in passthrough.
    func refreshStaleAttributes(of node: NodeID) -> AttributeRefresh {
        guard let inode = cache.inode(node) else { return .skipped }
        defer { inode.release() }
        let (attributes, fresh) = cache.attributes(of: inode)
        guard !fresh, mode_t(attributes.mode) & S_IFMT == S_IFREG, !passthrough.isOpen(node),
              !usesKeptDescriptor(inode), cache.isHashed(inode) else { return .skipped }
        let stamp = cache.attributeStamp
        // ESTALE (the file went meanwhile) unhashes it, as for a request.
        guard let status = try? withPath(inode, { try $0.statDescriptor().rawValue }),
              (try? Self.identity(of: status)) == inode.identity else { return .skipped }
        cache.setAttributes(inode, InodeAttributes(status), timeout: cacheTimeout(device: inode.identity.device),
                            observed: stamp)
        return cache.attributes(of: inode).fresh ? .stored : .overtaken
    }
}
