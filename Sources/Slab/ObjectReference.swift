import CSlabSupport

/// The reference count at offset 0 of an object in a reclaimable cache
/// (Lameter's SLAB_RECLAIM proposal, 2006): 0 free or being freed, 1 unused cache information, >1 in use.
/// A thin view over the object's address; copying it copies the address.
public struct ObjectReference: Hashable, @unchecked Sendable {
    public let address: UnsafeMutableRawPointer

    @inlinable
    public init(_ address: UnsafeMutableRawPointer) { self.address = address }

    @inlinable
    public var count: UInt32 { slab_load_u32(address, Int32(SLAB_ACQUIRE)) }

    /// Sets the count of an object nobody else can reach yet (just allocated,
    /// or frozen at 0 by its owner).
    public func setCount(_ value: UInt32) { slab_store_u32(address, value, Int32(SLAB_RELEASE)) }

    /// Increment unless zero: fails on an object that is free or being freed.
    public func tryRetain() -> Bool {
        var current = slab_load_u32(address, Int32(SLAB_RELAXED))
        while current != 0 {
            if slab_cas_u32(address, &current, current + 1) { return true }
        }
        return false
    }

    /// Adds a reference the caller already holds a right to (the count is
    /// known to be above zero, e.g. under the owner's lock).
    public func retain() {
        let old = slab_fetch_add_u32(address, 1)
        precondition(old != 0, "ObjectReference.retain on a free object")
    }

    /// Drops one reference and returns the count left. Dropping the last
    /// reference of an in-use object leaves it unused (1), never free: only
    /// a winner of `tryFreeze` frees.
    @discardableResult
    public func release() -> UInt32 {
        let old = slab_fetch_sub_u32(address, 1)
        precondition(old > 1, "ObjectReference.release below the cache's own reference")
        return old - 1
    }

    /// CAS `expected` -> 0. The winner owns the object and must free it (or,
    /// when moving it, restore a count in its new slot).
    public func tryFreeze(expected: UInt32 = 1) -> Bool {
        var current = expected
        return slab_cas_u32(address, &current, 0)
    }
}
