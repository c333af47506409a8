import Foundation
import Synchronization

/// A private `redis-server` on a free loopback port, for tests that stop and start it.
public final class RedisServer: @unchecked Sendable {
    public private(set) var port: Int
    private var process: ChildProcess?
    private let directory: URL
    /// Ports handed out in this test process: two servers never share one, even when the
    /// kernel offers a port again that a stopped server left.
    private static let taken = Mutex<Set<Int>>([])

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try Self.unusedPort()
        // A port another process took between the look and redis-server's bind makes it
        // exit at once; then another port is tried.
        for attempt in 1...5 {
            if (try? start()) != nil {
                Thread.sleep(forTimeInterval: 0.05)
                if process?.isRunning == true { return }
            }
            guard attempt < 5 else { break }
            port = try Self.unusedPort()
        }
        throw RedisServerDidNotStart()
    }

    private static func unusedPort() throws -> Int {
        for _ in 0..<20 {
            let port = try freePort()
            if taken.withLock({ $0.insert(port).inserted }) { return port }
        }
        throw RedisServerDidNotStart()
    }

    /// Whether tests that need redis-server run: when it is on `PATH`, or required
    /// (``Backends/required``, and then they fail without it).
    public static var available: Bool { executable != nil || Backends.required }

    static var executable: String? { Backends.executable("redis-server") }

    public func start() throws {
        guard let executable = Self.executable else {
            throw MissingBackend("redis-server is not on PATH (Debian: apt-get install redis-server)")
        }
        let process = try ChildProcess(
            executable,
            arguments: ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory.path],
            environment: ProcessInfo.processInfo.environment
        )
        self.process = process
        // Up to 10 s: a loaded test machine may be slow to start it.
        for _ in 0..<2000 {
            if Self.accepts(port) { return }
            // It exited (its port was taken meanwhile): no use waiting.
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.005)
        }
        throw RedisServerDidNotStart()
    }

    public func stop() {
        guard let process, process.isRunning else { return }
        // SIGKILL: the child inherits this process's signal mask, where SIGTERM may be
        // blocked. Then wait until the port is closed, a few milliseconds at most.
        kill(process.processIdentifier, SIGKILL)
        for _ in 0..<500 where Self.accepts(port) {
            Thread.sleep(forTimeInterval: 0.005)
        }
        self.process = nil
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

struct RedisServerDidNotStart: Error {}
