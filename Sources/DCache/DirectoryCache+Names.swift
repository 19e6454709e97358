/// The dentries naming a node, for `user.slabfs.object`.
///
/// A FUSE request names an inode by node id only, and an inode keeps no
/// list of its dentries (that would cost 16 bytes an inode and work on every
/// link, rename and unlink, for a diagnostic). So this scans the dentry
/// table: every stripe in turn, each under its own lock, O(dentries cached)
/// (a few milliseconds for a million), never holding two locks at once.
/// It is meant for a diagnostic read, not for a request's path.
public struct DentryNames: Sendable {
    /// The dentries found (at most the `limit` asked for), described.
    public var dentries: [DentryDescription]
    /// How many live dentries name the node (hard links: more than one).
    public var total: Int
}

extension DirectoryCache {
    /// The live positive dentries whose child is `child`, described (at most
    /// `limit`), and how many there are. A dentry may go or move between the
    /// scan and its description: then it is left out.
    public func dentryNames(of child: NodeID, limit: Int = 8) -> DentryNames {
        var keys: [(parent: NodeID, name: [UInt8])] = []
        var total = 0
        dentryTable.forEachStripe { stripe in
            stripe.forEach { raw in
                let dentry = DentryObject(raw)
                // Count 0: being freed, still in its stripe until destroyed.
                guard dentry.child == child, dentry.reference.count != 0 else { return }
                total += 1
                if keys.count < limit { keys.append((dentry.parent, dentry.name)) }
            }
        }
        let described = keys.compactMap { key in
            describeDentry(parent: key.parent, name: key.name).flatMap { $0.child == child.rawValue ? $0 : nil }
        }
        return DentryNames(dentries: described, total: total)
    }
}
