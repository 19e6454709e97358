// Backing identities reused: a backing inode number handed to a new file
// while the cache still holds the old one (ext4 reuses numbers at once).

extension DirectoryCache {
    /// Takes the inode out of the (device, inode) table, so that the next
    /// insert of that identity creates a new inode. For a backing inode
    /// number reused by a new file (ext4 hands a freed number out again at
    /// once): the cached inode's handle names the dead file (ESTALE), and
    /// the new file needs a node id of its own. The old inode stays
    /// reachable by node id while the kernel or a handle holds it; freeing
    /// or moving it later finds no identity slot, which both allow.
    public func unhashIdentity(of inode: InodeReference) {
        let hash = Self.hash(inode.identity)
        nodeTable.withSlot(inode.nodeID) { _ in
            identityTable.withStripe(hash) { _ = $0.remove(inode.object.raw, hash: hash) }
        }
    }

    /// Whether the inode is still the one its (device, inode) identity
    /// finds: false once `unhashIdentity` took it out (its backing file was
    /// found gone), so that a cached dentry naming it is not trusted.
    public func isHashed(_ inode: InodeReference) -> Bool {
        let hash = Self.hash(inode.identity)
        return nodeTable.withSlot(inode.nodeID) { _ in
            identityTable.withStripe(hash) { stripe in
                stripe.find(hash, { $0 == inode.object.raw }) != nil
            }
        }
    }
}
