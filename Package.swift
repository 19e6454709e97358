// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "slabfs",
    products: [
        .library(name: "Slab", targets: ["Slab"]),
        .library(name: "DCache", targets: ["DCache"]),
        .executable(name: "slabfs", targets: ["slabfs"]),
        .executable(name: "slabfs-bench", targets: ["slabfs-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // The few C facilities Swift cannot reach directly: thread-local storage,
        // the membarrier system call, compiler-only fences, atomics on raw memory.
        .target(name: "CSlabSupport"),
        .target(name: "Slab", dependencies: ["CSlabSupport"]),
        // Dentry and inode caches on the slab; no FUSE here.
        .target(
            name: "DCache",
            dependencies: ["Slab", "CSlabSupport", .product(name: "DequeModule", package: "swift-collections")]
        ),
        // What tests and benchmarks drive the caches with: POSIX threads, a
        // seedable random generator.
        .target(name: "LoadGenerators"),
        // libfuse3's low-level API.
        .systemLibrary(name: "CFuse", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        // The filesystem: FUSE operations, passthrough to the backing directory.
        .target(
            name: "SlabFS",
            dependencies: [
                "DCache", "Slab", "CFuse", "CSlabSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .executableTarget(
            name: "slabfs",
            dependencies: [
                "SlabFS", "DCache", "Slab",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "slabfs-bench",
            dependencies: [
                "Slab", "DCache", "LoadGenerators",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SlabTests", dependencies: ["Slab", "LoadGenerators"]),
        .testTarget(name: "DCacheTests", dependencies: ["DCache", "Slab", "LoadGenerators"]),
        .testTarget(name: "SlabFSTests", dependencies: ["SlabFS"]),
    ]
)
