import Foundation
import Synchronization

/// Whether tests may go without a backend (PostgreSQL, redis-server, moto_server).
///
/// `scripts/test`, and so CI, sets `SHOP_TEST_REQUIRE_BACKENDS=1`: then every test runs,
/// and one whose backend is missing fails with an error naming it. Without it (a plain
/// `swift test`), such tests are skipped, and each says so by name in the run's output,
/// so a partial run is never mistaken for a whole one.
public enum Backends {
    public static var required: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["SHOP_TEST_REQUIRE_BACKENDS"] == "1" || environment["CI"] == "true"
    }

    /// The first executable called `name` on `PATH`.
    public static func executable(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Says which tests go without what, on standard error.
    public static func reportSkip(_ what: String, in place: String) {
        FileHandle.standardError.write(Data("SKIPPED (\(what) missing): \(place)\n".utf8))
    }

    /// `fallback`, the cases left when `what` is missing, after saying which were dropped.
    public static func skipping<Cases>(_ what: String, in place: String, _ fallback: Cases) -> Cases {
        reportSkip(what, in: place)
        return fallback
    }
}

/// A backend a test needs is not there, and `SHOP_TEST_REQUIRE_BACKENDS` says it must be.
public struct MissingBackend: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A child process started with `posix_spawn` and reaped with `waitpid`.
///
/// Foundation's `Process.run()` crashed here (a bad pointer in its `memmove`) while other
/// tests opened and closed descriptors, and its `waitUntilExit` hangs on this toolchain.
public final class ChildProcess: @unchecked Sendable {
    public let processIdentifier: pid_t
    private let lock = NSLock()
    private var status: Int32?

    /// Starts `executable` with `arguments` and `environment`, its standard output and error
    /// appended to `output` (discarded when `nil`).
    public init(_ executable: String, arguments: [String], environment: [String: String], output: String? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_APPEND | O_CREAT, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The test runner blocks some signals; the child starts with none blocked and every
        // signal at its default, as a process started from a shell does.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EINVAL) }
        processIdentifier = pid
    }

    /// Whether it has not exited yet (reaping it once it has).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        guard status == nil else { return false }
        var raw: Int32 = 0
        guard waitpid(processIdentifier, &raw, WNOHANG) == processIdentifier else { return true }
        // The exit code, or 128 + the signal that ended it, as a shell reports it.
        status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        return false
    }

    /// The exit status, once it has exited (see ``isRunning``).
    public var terminationStatus: Int32 {
        _ = isRunning
        lock.lock()
        defer { lock.unlock() }
        return status ?? -1
    }

    public func terminate() {
        kill(processIdentifier, SIGTERM)
    }

    deinit {
        if isRunning {
            kill(processIdentifier, SIGKILL)
            var raw: Int32 = 0
            waitpid(processIdentifier, &raw, 0)
        }
    }
}

/// A TCP port on loopback that was free a moment ago, never handed out before in this
/// process.
///
/// It is taken from below the kernel's range of ephemeral ports. A port the kernel picks
/// for `bind(0)` comes from that range, where every outgoing connection of the test process
/// takes its local port too: a server started there a moment later could find its port
/// taken by a client (a fake instance's port was, and its test waited for it forever).
/// Below the range only servers bind, and each gets a port of its own (another process may
/// still take it first: a server that cannot bind it fails to start, and says so).
public func freePort() throws -> Int {
    let below = ephemeralPorts.lowerBound
    for _ in 0..<1000 {
        let candidate = Int.random(in: (below - 16_384)..<below)
        let fresh = handedOutPorts.withLock { ports in ports.insert(candidate).inserted }
        if fresh, canBind(candidate) { return candidate }
    }
    throw NoFreePort()
}

/// The ports this process's `freePort()` has handed out.
private let handedOutPorts = Mutex(Set<Int>())

/// The kernel's range of local ports for outgoing connections (Linux's default if it cannot
/// be read).
private let ephemeralPorts: ClosedRange<Int> = {
    let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
    let bounds = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
    guard bounds.count == 2, bounds[0] > 20_000, bounds[0] <= bounds[1] else { return 32_768...60_999 }
    return bounds[0]...bounds[1]
}()

/// Whether a listening socket could bind `port` on loopback now.
private func canBind(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let length = socklen_t(MemoryLayout<sockaddr_in>.size)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 }
    }
}

/// No port on loopback could be bound.
public struct NoFreePort: Error {}
