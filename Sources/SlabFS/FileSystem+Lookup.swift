import DCache
import Glibc
import SystemPackage

// Finding (parent, name): from the cache while its answer is valid, from the
// backing directory otherwise. Used by lookup, readdirplus and every
// operation that makes a name (they look the new entry up).

extension FileSystem {
    /// The entry `name` in `parent`, or nil if there is none. `directory`
    /// is an open descriptor of the parent's backing directory, if the
    /// caller has one; otherwise one is opened from the parent's handle
    /// when the backing directory must be asked.
    func lookUp(_ name: BackingName, in parent: InodeReference, directory: FileDescriptor? = nil) throws -> FoundEntry? {
        switch cache.lookup(parent: parent.nodeID, name: name.bytes) {
        case .negative:
            return nil
        case .hit(let inode):
            if let entry = try cachedEntry(inode, name: name, parent: parent, directory: directory) {
                notePlace(of: entry, name: name, in: parent)
                return entry
            }
        case .miss:
            break
        }
        return try lookUpBacking(name, in: parent, directory: directory)
    }

    /// Asks the backing directory, and records the answer in the cache.
    func lookUpBacking(_ name: BackingName, in parent: InodeReference, directory: FileDescriptor?) throws -> FoundEntry? {
        // "No such entry" comes back as nil, not as a thrown error: every
        // create starts with such a lookup, and an error thrown through the
        // untyped closure would be boxed and cast back.
        let stamp = cache.attributeStamp
        let found = try withDirectory(parent, directory) { directory -> (stat: Stat, locator: BackingLocator)? in
            do throws(Errno) {
                return try lookUpIdentity(name, in: directory)
            } catch .noSuchFileOrDirectory {
                // Unless the directory itself is gone (removed behind the
                // mount): then `withPath` turns this into ESTALE.
                if isRemoved(directory) { throw Errno.noSuchFileOrDirectory }
                return nil
            }
        }
        guard let found else {
            if cache.negativeLimit > 0 {
                try? cache.insertNegative(parent: parent.nodeID, name: name.bytes,
                                          timeout: cacheTimeout(device: parent.identity.device), observed: stamp)
            }
            return nil
        }
        return try record(name, in: parent, stat: found.stat.rawValue, locator: found.locator, observed: stamp)
    }

    /// The attributes of `name` in `directory` and how to reach it again:
    /// the Backing layer's race-free lookup, or, without handles, the
    /// O_PATH descriptor it would have closed.
    private func lookUpIdentity(_ name: BackingName, in directory: FileDescriptor) throws(Errno)
        -> (stat: Stat, locator: BackingLocator)
    {
        if usesHandles { return try backing.lookup(name, in: directory) }
        let descriptor = try directory.openPath(name)
        do {
            return (try descriptor.statDescriptor(), .descriptor(descriptor))
        } catch {
            try? descriptor.close()
            throw error
        }
    }

    /// Records (parent, name) -> the file `locator` reaches, whose
    /// attributes are `status` as read after `observed` was taken; takes
    /// over a descriptor locator.
    func record(_ name: BackingName, in parent: InodeReference, stat status: stat,
                locator: BackingLocator, observed: AttributeStamp) throws -> FoundEntry {
        var handle = BackingFileHandle(type: Self.descriptorHandleType, bytes: [])
        var kept: FileDescriptor?
        switch locator {
        case .handle(let backingHandle): handle = Self.cacheHandle(backingHandle)
        case .descriptor(let descriptor): kept = descriptor
        }
        do {
            let identity = try Self.identity(of: status)
            let attributes = InodeAttributes(status)
            let timeout = cacheTimeout(device: identity.device)
            let inode = try cache.insert(parent: parent.nodeID, name: name.bytes, identity: identity, handle: handle,
                                         attributes: attributes, entryTimeout: timeout, attributeTimeout: timeout,
                                         observed: observed)
            let entry = FoundEntry(inode: inode, attributes: attributes, descriptor: kept)
            notePlace(of: entry, name: name, in: parent)
            return entry
        } catch {
            if let kept { try? kept.close() }
            throw error
        }
    }

    /// A directory found by name: where to open it by name next time.
    private func notePlace(of entry: FoundEntry, name: BackingName, in parent: InodeReference) {
        guard mode_t(entry.attributes.mode) & S_IFMT == S_IFDIR else { return }
        directoryPlaces.note(entry.inode.nodeID, parent: parent.nodeID, name: name)
    }

    /// A cache hit, with its attributes refreshed from the backing
    /// directory if they have expired. nil when the name no longer leads
    /// to that file (gone, or replaced by another): the dentry is dropped
    /// and the caller asks the backing directory.
    private func cachedEntry(_ inode: InodeReference, name: BackingName, parent: InodeReference,
                             directory: FileDescriptor?) throws -> FoundEntry? {
        var (attributes, fresh) = cache.attributes(of: inode)
        var kept: FileDescriptor?
        if usesKeptDescriptor(inode) {
            // The kernel let go of it and its descriptor is closed: look again.
            guard let duplicate = try pathDescriptors.duplicate(for: inode) else {
                inode.release()
                return nil
            }
            kept = duplicate
        }
        let entry = FoundEntry(inode: inode, attributes: attributes, descriptor: kept)
        // In passthrough the kernel changes size and times without us.
        guard !fresh || passthrough.isOpen(inode.nodeID) else { return entry }
        guard cache.isHashed(inode) else {
            // Its backing file was found gone (ESTALE): the name now leads
            // elsewhere, perhaps to a new file with the same inode number.
            entry.discard()
            cache.invalidate(parent: parent.nodeID, name: name.bytes)
            return nil
        }
        do {
            let stamp = cache.attributeStamp
            let status = try withDirectory(parent, directory) { try $0.stat(name).rawValue }
            guard try Self.identity(of: status) == inode.identity else {
                entry.discard()
                cache.invalidate(parent: parent.nodeID, name: name.bytes)
                return nil
            }
            attributes = InodeAttributes(status)
            cache.setAttributes(inode, attributes, timeout: cacheTimeout(device: inode.identity.device), observed: stamp)
            return FoundEntry(inode: inode, attributes: attributes, descriptor: kept)
        } catch let error as Errno where error == .noSuchFileOrDirectory || error == .staleNFSFileHandle {
            entry.discard()
            cache.invalidate(parent: parent.nodeID, name: name.bytes)
            return nil
        } catch {
            entry.discard()
            throw error
        }
    }

    /// Calls `body` with `directory` if given, else with an O_PATH
    /// descriptor of `parent` opened for the call.
    func withDirectory<R>(_ parent: InodeReference, _ directory: FileDescriptor?,
                          _ body: (FileDescriptor) throws -> R) throws -> R {
        if let directory { return try body(directory) }
        return try withPath(parent, directory: true, body)
    }
}
