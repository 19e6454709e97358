// Self-checks the tests call after mutations, as the allocator's
// (SlabCache+Invariants.swift): every published object is consistent with
// the tables that find it and with its own header. For a quiescent cache:
// run it when no other thread uses the cache.

extension DirectoryCache {
    /// Describes every broken invariant; empty means the cache is consistent.
    public func _invariantViolations() -> [String] {
        var problems: [String] = []
        // Live dentries, and how many name each inode.
        var dentriesNaming: [NodeID: UInt32] = [:]
        dentryTable.forEachStripe { stripe in
            stripe.forEach { raw in
                let dentry = DentryObject(raw)
                guard dentry.reference.count != 0 else { return }  // being freed
                let name = dentry.name
                let hash = name.withUnsafeBytes { DentryObject.hash(parent: dentry.parent, name: $0) }
                if hash != dentry.hash { problems.append("dentry \(dentry.parent)/\(name): stored hash is not its key's") }
                if (dentry.flags & DentryObject.longName != 0) != (name.count > DentryObject.inlineNameBytes) {
                    problems.append("dentry \(dentry.parent)/\(name): long-name flag does not match its length \(name.count)")
                }
                if let child = dentry.child { dentriesNaming[child, default: 0] += 1 }
            }
        }
        var published: [InodeObject] = []
        identityTable.forEachStripe { stripe in stripe.forEach { published.append(InodeObject($0)) } }
        var live = Set<NodeID>()
        for inode in published {
            let id = inode.nodeID
            nodeTable.withSlot(id) { slot in
                guard inode.reference.count != 0 else { return }  // being freed
                live.insert(id)
                if slot?.object != inode.raw { problems.append("inode \(id): its node-table slot names another object") }
                let stable = inode.stable
                if inode.reference.count <= stable {
                    problems.append("inode \(id): count \(inode.reference.count) not above its \(stable) stable references")
                }
                let named = dentriesNaming[id] ?? 0
                let kernel: UInt32 = inode.kernelLookups > 0 ? 1 : 0
                if stable < named + kernel {
                    problems.append("inode \(id): \(stable) stable references for \(named) dentries and \(kernel) kernel hold")
                }
                if inode.attributes.mode & 0o170000 == 0 { problems.append("inode \(id): no file type in mode") }
                if inode.flags & InodeObject.longHandle == 0 && inode.handle.bytes.count > InodeObject.inlineHandleBytes {
                    problems.append("inode \(id): inline handle of \(inode.handle.bytes.count) bytes")
                }
            }
        }
        for (child, count) in dentriesNaming where !live.contains(child) {
            // Out of the identity table but cached: its inode number was
            // reused by another file (`unhashIdentity`), and it stays for
            // whoever holds it.
            let unhashed: Bool = nodeTable.withSlot(child) { slot in
                guard let object = slot?.object else { return false }
                let inode = InodeObject(object)
                return inode.reference.count != 0 && inode.stable >= count
            }
            if !unhashed { problems.append("\(count) dentries name node \(child), which is not cached") }
        }
        return problems
    }

    /// Traps with every broken invariant.
    public func _checkInvariants() {
        let problems = _invariantViolations()
        precondition(problems.isEmpty, "DirectoryCache invariants: \(problems.joined(separator: "; "))")
    }
}
