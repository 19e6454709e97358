import Slab

/// Where an object lives and who holds it: `user.slabfs.object`.
public struct ObjectDescription: Codable, Equatable, Sendable {
    public var cache: String
    public var address: String
    public var slab: Int
    public var page: String
    public var slot: Int
    /// The reference count at offset 0.
    public var count: UInt32
}

public struct InodeDescription: Codable, Equatable, Sendable {
    public var nodeID: UInt64
    public var generation: UInt64
    public var kernelLookups: UInt64
    /// References a move preserves: the kernel's, handles', dentries'.
    public var stableReferences: UInt32
    public var object: ObjectDescription
}

public struct DentryDescription: Codable, Equatable, Sendable {
    public var parent: UInt64
    public var name: String
    /// Nil for a negative dentry.
    public var child: UInt64?
    public var object: ObjectDescription
}

extension DirectoryCache {
    /// The inode's slot and counts, read under its node stripe (so it cannot
    /// move while being described); nil if the node is not cached.
    public func describeInode(_ id: NodeID) -> InodeDescription? {
        nodeTable.withSlot(id) { slot in
            guard let raw = slot?.object, let object = describe(raw, in: inodes) else { return nil }
            let inode = InodeObject(raw)
            return InodeDescription(nodeID: id.rawValue, generation: UInt64(slot!.generation),
                                    kernelLookups: UInt64(inode.kernelLookups), stableReferences: inode.stable,
                                    object: object)
        }
    }

    /// The dentry (parent, name), read under its stripe; nil if not cached.
    public func describeDentry(parent: NodeID, name: [UInt8]) -> DentryDescription? {
        name.withUnsafeBytes { name in
            let hash = DentryObject.hash(parent: parent, name: name)
            return dentryTable.withStripe(hash) { stripe in
                guard let raw = stripe.find(hash, { DentryObject($0).isLive(parent: parent, name: name, hash: hash) }),
                      let object = describe(raw, in: dentries) else { return nil }
                let dentry = DentryObject(raw)
                return DentryDescription(parent: parent.rawValue, name: String(decoding: dentry.name, as: UTF8.self),
                                         child: dentry.child?.rawValue, object: object)
            }
        }
    }

    private func describe(_ raw: UnsafeMutableRawPointer, in cache: SlabCache) -> ObjectDescription? {
        guard let location = cache.location(of: raw) else { return nil }
        return ObjectDescription(cache: cache.configuration.name, address: hex(UInt(bitPattern: raw)),
                                 slab: location.slab, page: hex(location.pageAddress), slot: location.slot,
                                 count: ObjectReference(raw).count)
    }

    private func hex(_ value: UInt) -> String { "0x" + String(value, radix: 16) }
}
