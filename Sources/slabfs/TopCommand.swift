#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import DCache
import SlabFS

/// `slabfs top MOUNTPOINT`: a live view like slabtop, with a fragmentation
/// map per cache (one cell per slab page, shaded by fill), refreshed every
/// second. Quits on q or Ctrl-C and restores the terminal.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top", abstract: "Watch a mount's slab caches, with a fragmentation map per cache.")

    @Argument(help: "The mountpoint of a slabfs mount.") var mountpoint: String
    @Option(help: "Seconds between refreshes.") var interval = 1.0
    @Flag(help: "Print one frame and exit (no terminal control).") var once = false

    func validate() throws {
        guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be 0.1 to 3600 seconds") }
    }

    func run() throws {
        let client = try ControlClient(mountpoint: mountpoint)
        if once || isatty(1) == 0 {
            print(try frame(client, size: (columns: 100, rows: 60)))
            return
        }
        let terminal = RawTerminal()
        defer { terminal.restore() }
        while true {
            let text = try frame(client, size: terminal.size())
            terminal.draw(text)
            if terminal.waitForQuit(seconds: interval) { return }
        }
    }

    private func frame(_ client: ControlClient, size: (columns: Int, rows: Int)) throws -> String {
        let stats = try client.decode(MountStatistics.self, from: "stats")
        let maps = try client.decode([FragmentationMap].self, from: "slabmap")
        var lines = StatisticsReport.render(stats, mountpoint: mountpoint).split(separator: "\n").map(String.init)
        let width = max(10, size.columns - 2)
        let rowsLeft = max(2, size.rows - lines.count - 4 * maps.count - 2)
        for map in maps {
            let perCell = map.slabsPerCell == 1 ? "one slab" : "\(map.slabsPerCell) slabs"
            lines.append("")
            lines.append(" \(map.cache): \(map.cells.count) cells, each \(perCell) of \(map.objectsPerSlab) objects "
                + "(█ full ▓ >2/3 ▒ >1/3 ░ some · empty, blank: page given back)")
            for row in StatisticsReport.renderMap(map, width: width, rows: rowsLeft / max(1, maps.count)) {
                lines.append(" " + row)
            }
        }
        lines.append("")
        lines.append(" q or Ctrl-C to quit; refreshing every \(interval) s")
        return lines.joined(separator: "\n")
    }
}

/// The terminal in raw mode (no echo, no line buffering, Ctrl-C read as a
/// byte) on the alternate screen; `restore` undoes all of it, also when a
/// signal ends the process.
final class RawTerminal {
    init() {
        var saved = termios()
        if tcgetattr(0, &saved) == 0 {
            savedTerminal = saved
            var raw = saved
            raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG)
            raw.c_cc.6 = 1  // VMIN
            raw.c_cc.5 = 0  // VTIME
            tcsetattr(0, TCSANOW, &raw)
        }
        signal(SIGTERM, restoreTerminalAndExit)
        signal(SIGHUP, restoreTerminalAndExit)
        writeOut("\u{1B}[?1049h\u{1B}[?25l")
    }

    func restore() { restoreTerminal() }

    func size() -> (columns: Int, rows: Int) {
        var window = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &window) == 0, window.ws_col > 0 else { return (80, 24) }
        return (Int(window.ws_col), Int(window.ws_row))
    }

    func draw(_ text: String) {
        writeOut("\u{1B}[H\u{1B}[2J" + text.replacingOccurrences(of: "\n", with: "\r\n"))
    }

    /// Waits up to `seconds` for a key; true on q, Q or Ctrl-C.
    func waitForQuit(seconds: Double) -> Bool {
        var input = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        guard poll(&input, 1, Int32(seconds * 1000)) > 0 else { return false }
        var byte: UInt8 = 0
        guard read(0, &byte, 1) == 1 else { return true }
        return byte == UInt8(ascii: "q") || byte == UInt8(ascii: "Q") || byte == 3
    }
}

nonisolated(unsafe) private var savedTerminal: termios?

private func writeOut(_ text: String) {
    text.withCString { _ = write(1, $0, strlen($0)) }
}

private func restoreTerminal() {
    writeOut("\u{1B}[?25h\u{1B}[?1049l")
    if var saved = savedTerminal { tcsetattr(0, TCSANOW, &saved) }
}

private func restoreTerminalAndExit(_ signal: Int32) {
    restoreTerminal()
    _exit(128 + signal)
}
