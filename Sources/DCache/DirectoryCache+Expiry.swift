extension DirectoryCache {
    /// Makes every cached name and attribute stale at once: each is asked
    /// of the backing store again at its next use. For when the time the
    /// cache may trust what it holds is cut (what it recorded under the old
    /// timeout must not outlive the new one). Objects stay cached; one stripe
    /// lock at a time, never two, as reclaim takes them.
    public func expireAll() {
        var nodes: [NodeID] = []
        dentryTable.forEachStripe { stripe in
            stripe.forEach { raw in DentryObject(raw).expiry = 0 }
        }
        // The identity table holds every inode; its node id is immutable.
        identityTable.forEachStripe { stripe in
            stripe.forEach { raw in nodes.append(InodeObject(raw).nodeID) }
        }
        for id in nodes { invalidateAttributes(id) }
    }
}
