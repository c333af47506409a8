import Foundation

/// A merchant's system as a test needs one: a Python HTTP server that checks every webhook
/// it gets with the Standard Webhooks reference library (PyPI `standardwebhooks`) and the
/// endpoint's secret, records what it got and whether the signature held, and answers
/// 503 to the first `failFirst` deliveries (to make the sender retry).
public final class StandardWebhooksReceiver: @unchecked Sendable {
    /// One request as the receiver saw it.
    public struct Received: Sendable, Decodable {
        public let id: String
        public let timestamp: String
        public let verified: Bool
        public let type: String?
        public let status: Int
    }

    public let port: Int
    private let directory: URL
    private let process: ChildProcess

    private init(port: Int, directory: URL, process: ChildProcess) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    public var url: String { "http://127.0.0.1:\(port)/hooks" }

    /// Starts the receiver; it verifies with `secret` once ``use(secret:)`` gives it one.
    public static func start(failFirst: Int = 0) async throws -> StandardWebhooksReceiver {
        guard let python = Backends.executable("python3") else { throw MissingBackend("python3 is not on PATH") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("webhooks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = directory.appendingPathComponent("receiver.py")
        try Data(program.utf8).write(to: script)
        // The receiver binds a port the kernel picks and names it in `ready`: a port looked
        // up here first could be taken by another test's server before the bind.
        let process = try ChildProcess(
            python,
            arguments: [script.path, directory.path, String(failFirst)],
            environment: ProcessInfo.processInfo.environment,
            output: directory.appendingPathComponent("receiver.log").path
        )
        let ready = directory.appendingPathComponent("ready")
        for _ in 0..<600 where process.isRunning && !FileManager.default.fileExists(atPath: ready.path) {
            try await Task.sleep(for: .milliseconds(50))
        }
        guard let text = try? String(contentsOf: ready, encoding: .utf8), let port = Int(text) else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            let log = (try? String(contentsOf: directory.appendingPathComponent("receiver.log"), encoding: .utf8)) ?? ""
            if process.terminationStatus == 3 { throw MissingBackend("python3 cannot import standardwebhooks (pip install standardwebhooks)") }
            throw MissingBackend("the webhook receiver did not start: \(log)")
        }
        return StandardWebhooksReceiver(port: port, directory: directory, process: process)
    }

    /// The endpoint's secret (`whsec_...`), as registration showed it once.
    public func use(secret: String) throws {
        try Data(secret.utf8).write(to: directory.appendingPathComponent("secret"), options: .atomic)
    }

    /// Every request so far, in order.
    public func received() throws -> [Received] {
        let file = directory.appendingPathComponent("received.jsonl")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Received.self, from: Data($0.utf8)) }
    }

    /// Waits (60 s at most) until `enough` holds for what was received, and returns it.
    public func wait(until enough: ([Received]) -> Bool) async throws -> [Received] {
        for _ in 0..<1200 {
            let now = try received()
            if enough(now) { return now }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try received()
    }

    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    static let program = #"""
        import json, os, sys
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        try:
            from standardwebhooks.webhooks import Webhook
        except ImportError:
            sys.exit(3)

        folder, fail_first = sys.argv[1], int(sys.argv[2])
        count = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                global count
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                count += 1
                status = 503 if count <= fail_first else 200
                verified, kind = False, None
                try:
                    with open(os.path.join(folder, "secret")) as f:
                        secret = f.read().strip()
                    payload = Webhook(secret).verify(body, {k.lower(): v for k, v in self.headers.items()})
                    verified, kind = True, payload.get("type")
                except Exception as error:
                    print("not verified:", repr(error), flush=True)
                line = {"id": self.headers.get("webhook-id", ""), "timestamp": self.headers.get("webhook-timestamp", ""),
                        "verified": verified, "type": kind, "status": status}
                with open(os.path.join(folder, "received.jsonl"), "a") as f:
                    f.write(json.dumps(line) + "\n")
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        with open(os.path.join(folder, "ready.tmp"), "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(os.path.join(folder, "ready.tmp"), os.path.join(folder, "ready"))
        server.serve_forever()
        """#
}
