// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "slabfs",
    products: [
        .library(name: "Slab", targets: ["Slab"]),
        .executable(name: "slabfs-bench", targets: ["slabfs-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The few C facilities Swift cannot reach directly: thread-local storage,
        // the membarrier system call, compiler-only fences, sched_getcpu.
        .target(name: "CSlabSupport"),
        .target(name: "Slab", dependencies: ["CSlabSupport"]),
        .executableTarget(
            name: "slabfs-bench",
            dependencies: [
                "Slab",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SlabTests", dependencies: ["Slab"]),
    ]
)
