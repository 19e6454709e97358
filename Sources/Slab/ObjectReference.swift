import Synchronization

/// The reference count at offset 0 of an object in a reclaimable cache
/// (seed 003): 0 free or being freed, 1 unused cache information, >1 in use.
/// A thin view over the object's address; copying it copies the address.
public struct ObjectReference: Hashable, @unchecked Sendable {
    public let address: UnsafeMutableRawPointer

    @inlinable
    public init(_ address: UnsafeMutableRawPointer) { self.address = address }

    @inlinable
    var counter: UnsafeMutablePointer<Atomic<UInt32>> {
        address.assumingMemoryBound(to: Atomic<UInt32>.self)
    }

    @inlinable
    public var count: UInt32 { counter.pointee.load(ordering: .acquiring) }

    /// Sets the count of an object nobody else can reach yet (just allocated,
    /// or frozen at 0 by its owner).
    @inlinable
    public func setCount(_ value: UInt32) { counter.pointee.store(value, ordering: .releasing) }

    /// Increment unless zero: fails on an object that is free or being freed.
    @inlinable
    public func tryRetain() -> Bool {
        var current = counter.pointee.load(ordering: .relaxed)
        while current != 0 {
            let (exchanged, original) = counter.pointee.weakCompareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Adds a reference the caller already holds a right to (the count is
    /// known to be above zero, e.g. under the owner's lock).
    @inlinable
    public func retain() {
        let old = counter.pointee.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue
        precondition(old != 0, "ObjectReference.retain on a free object")
    }

    /// Drops one reference and returns the count left. Dropping the last
    /// reference of an in-use object leaves it unused (1), never free: only
    /// a winner of `tryFreeze` frees.
    @inlinable
    @discardableResult
    public func release() -> UInt32 {
        let old = counter.pointee.wrappingSubtract(1, ordering: .acquiringAndReleasing).oldValue
        precondition(old > 1, "ObjectReference.release below the cache's own reference")
        return old - 1
    }

    /// CAS `expected` -> 0. The winner owns the object and must free it (or,
    /// when moving it, restore a count in its new slot).
    @inlinable
    public func tryFreeze(expected: UInt32 = 1) -> Bool {
        counter.pointee.compareExchange(expected: expected, desired: 0,
                                        ordering: .acquiringAndReleasing).exchanged
    }
}
