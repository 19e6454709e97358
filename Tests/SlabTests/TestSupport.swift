import Slab
import Synchronization
import Testing

/// A test object: the count, then an id and a canary derived from it.
/// Layout: [count: UInt32][pad: UInt32][id: UInt64][canary: UInt64].
enum TestObject {
    static let size = 24

    static func initialize(_ object: UnsafeMutableRawPointer, id: UInt64, count: UInt32) {
        object.storeBytes(of: id, toByteOffset: 8, as: UInt64.self)
        object.storeBytes(of: canary(for: id), toByteOffset: 16, as: UInt64.self)
        ObjectReference(object).setCount(count)
    }

    static func id(_ object: UnsafeRawPointer) -> UInt64 { object.load(fromByteOffset: 8, as: UInt64.self) }

    static func isIntact(_ object: UnsafeRawPointer, id: UInt64) -> Bool {
        object.load(fromByteOffset: 8, as: UInt64.self) == id
            && object.load(fromByteOffset: 16, as: UInt64.self) == canary(for: id)
    }

    static func canary(for id: UInt64) -> UInt64 { id &* 0x9E37_79B9_7F4A_7C15 ^ 0xC0FF_EE00_DEAD_BEEF }
}

/// A stand-in for DCache: objects published in a table by id, looked up
/// under the table lock with increment-unless-zero, movable because callers
/// find them by id, never by a remembered address.
final class ObjectTable: Sendable {
    struct Entry: @unchecked Sendable { var object: UnsafeMutableRawPointer }
    let entries = Locked([UInt64: Entry]())
    let destroyed = Atomic<Int>(0)
    let moved = Atomic<Int>(0)

    /// Looks an id up and takes a reference; nil if absent or being freed.
    func acquire(_ id: UInt64) -> UnsafeMutableRawPointer? {
        entries.withLock { entries in
            guard let object = entries[id]?.object, ObjectReference(object).tryRetain() else { return nil }
            return object
        }
    }

    func publish(_ object: UnsafeMutableRawPointer) {
        entries.withLock { $0[TestObject.id(object)] = Entry(object: object) }
    }

    /// Removes an unused object (wins 1 -> 0) and hands it back for freeing.
    func remove(_ id: UInt64) -> UnsafeMutableRawPointer? {
        entries.withLock { entries in
            guard let object = entries[id]?.object, ObjectReference(object).tryFreeze() else { return nil }
            entries[id] = nil
            return object
        }
    }

    var count: Int { entries.withLock { $0.count } }

    func callbacks(movable: Bool) -> SlabCache.Callbacks {
        SlabCache.Callbacks(
            destructor: { [self] object in
                // Reclaim already won 1 -> 0; unpublish by identity.
                entries.withLock { entries in
                    let id = TestObject.id(object)
                    if entries[id]?.object == object { entries[id] = nil }
                }
                destroyed.add(1, ordering: .relaxed)
            },
            mobility: movable ? SlabCache.Mobility(
                get: { [self] object in
                    entries.withLock { _ in ObjectReference(object).tryRetain() }
                },
                kick: { [self] object, destination in
                    entries.withLock { entries in
                        let ref = ObjectReference(object)
                        // Only the cache's reference and ours: nobody is using it.
                        guard ref.tryFreeze(expected: 2) else {
                            ref.release()
                            return .refused
                        }
                        let id = TestObject.id(object)
                        guard let destination else {
                            entries[id] = nil
                            destroyed.add(1, ordering: .relaxed)
                            return .freed
                        }
                        destination.advanced(by: 4).copyMemory(from: object + 4, byteCount: TestObject.size - 4)
                        ObjectReference(destination).setCount(1)
                        entries[id] = Entry(object: destination)
                        moved.add(1, ordering: .relaxed)
                        return .moved
                    }
                }) : nil)
    }
}

func makeCache(_ name: String = "test", objectSize: Int = TestObject.size, reclaimable: Bool = true,
               threadCache: Int = 0, reservedBytes: Int = 64 << 20,
               configure: (inout SlabCache.Configuration) -> Void = { _ in },
               callbacks: SlabCache.Callbacks = .init()) throws -> SlabCache {
    var configuration = SlabCache.Configuration(name: name, objectSize: objectSize, reclaimable: reclaimable)
    configuration.threadCacheCapacity = threadCache
    configuration.reservedBytes = reservedBytes
    configure(&configuration)
    return try SlabCache(configuration, callbacks: callbacks)
}

/// Allocates `count` objects with ids from `firstID`, published with count 1.
func fill(_ cache: SlabCache, table: ObjectTable, count: Int, firstID: UInt64 = 1) -> [UnsafeMutableRawPointer] {
    (0..<count).map { i in
        let object = cache.allocate()!
        TestObject.initialize(object, id: firstID + UInt64(i), count: 1)
        table.publish(object)
        return object
    }
}

/// A cache whose objects `table` publishes (its callbacks are the table's),
/// and how many objects a slab of it holds.
func makeTableCache(movable: Bool, configure: (inout SlabCache.Configuration) -> Void = { _ in })
    throws -> (table: ObjectTable, cache: SlabCache, perSlab: Int)
{
    let table = ObjectTable()
    let cache = try makeCache(configure: configure, callbacks: table.callbacks(movable: movable))
    return (table, cache, cache.configuration.objectsPerSlab)
}

/// Fills `slabs` whole slabs, then frees all but every `keep`th object,
/// leaving each slab 1/`keep` full; how many objects are left.
func fillSparsely(_ cache: SlabCache, table: ObjectTable, slabs: Int, keepingEvery keep: Int) -> Int {
    let objects = fill(cache, table: table, count: slabs * cache.configuration.objectsPerSlab)
    table.removeAndFree(objects.enumerated().filter { $0.offset % keep != 0 }.map(\.element), in: cache)
    return table.count
}

extension ObjectTable {
    /// Takes each (unused) object out of the table and frees it.
    func removeAndFree(_ objects: some Sequence<UnsafeMutableRawPointer>, in cache: SlabCache) {
        for object in objects { cache.free(remove(TestObject.id(object))!) }
    }

    /// Checks that every object in the table is found by its id, intact.
    func expectEveryObjectIntact(sourceLocation: SourceLocation = #_sourceLocation) throws {
        for id in entries.withLock({ Array($0.keys) }) {
            let object = try #require(acquire(id), sourceLocation: sourceLocation)
            #expect(TestObject.isIntact(object, id: id), sourceLocation: sourceLocation)
            ObjectReference(object).release()
        }
    }
}
