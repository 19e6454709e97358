import ArgumentParser

// The command types live outside main.swift: top-level code there is
// main-actor isolated, and Swift 6 traps when such code runs off the main
// thread.

struct SlabfsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slabfs-bench",
        abstract: "Benchmarks for slabfs's slab allocator.",
        // Each subcommand is its own file; add new ones here.
        subcommands: [AllocCommand.self, ReclaimCommand.self]
    )
}

/// Options every benchmark subcommand shares.
struct BenchOptions: ParsableArguments {
    @Option(help: "Timed repetitions per figure; the median is reported.")
    var repetitions = 7

    @Option(help: "Operations (alloc+free pairs, or objects) per repetition.")
    var operations = 4_000_000

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1") }
        guard operations >= 1024 else { throw ValidationError("--operations must be at least 1024") }
    }
}
