// Asking the kernel to drop entries only it holds (so that FORGET
// unpins their inodes): which entries, chosen by recency.

import CSlabSupport
import Glibc
import Slab

/// An entry the cache wants the kernel to drop (so that it sends FORGET).
public struct KernelDropRequest: Equatable, Sendable {
    public var parent: NodeID
    public var name: [UInt8]
}

extension DirectoryCache {
    // MARK: Kernel drops

    /// Asks the owner to make the kernel drop up to `max` entries whose
    /// inodes only the kernel keeps (no handle open, no second name, not a
    /// directory, not recently used), so that FORGET unpins them. With
    /// `secondChance`, an entry or inode used since the last call has its
    /// referenced bit cleared and is passed over only this time: the clock a
    /// kernel cache limit runs, since without reclaim nothing else clears
    /// those bits. Returns how many were requested.
    @discardableResult
    public func requestKernelDrops(max limit: Int, secondChance: Bool = false) -> Int {
        guard limit > 0, let handler = kernelDropHandler else { return 0 }
        var requests: [KernelDropRequest] = []
        dentryTable.forEachStripe { stripe in
            guard requests.count < limit else { return }
            stripe.forEach { raw in
                guard requests.count < limit else { return }
                let dentry = DentryObject(raw)
                guard let child = dentry.child else { return }
                // Without secondChance (after a reclaim walk), an object whose
                // bit that walk just spent was used since the last call too:
                // dropping it would send the kernel's hot entries away.
                let dentryUsed = secondChance ? dentry.clearFlags(DentryObject.referenced)
                                              : usedSinceLastCall(raw)
                let onlyKernel: Bool = nodeTable.withSlot(child) { slot in
                    guard let object = slot?.object else { return false }
                    let inode = InodeObject(object)
                    // Held by the kernel and this one dentry, by nothing else.
                    guard inode.kernelLookups > 0, !inode.attributes.isDirectory, inode.stable == 2 else {
                        return false
                    }
                    let inodeUsed = secondChance ? inode.clearFlags(InodeObject.referenced)
                                                 : usedSinceLastCall(object)
                    return !inodeUsed
                }
                if onlyKernel && !dentryUsed { requests.append(KernelDropRequest(parent: dentry.parent, name: dentry.name)) }
            }
        }
        guard !requests.isEmpty else { return 0 }
        counters.bump(.kernelDropsRequested, by: requests.count)
        handler(requests)
        return requests.count
    }
}
