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

    private let server: PythonServer

    public var port: Int { server.port }
    private var directory: URL { server.directory }

    private init(server: PythonServer) {
        self.server = server
    }

    public var url: String { "http://127.0.0.1:\(port)/hooks" }

    /// Starts the receiver; it verifies with `secret` once ``use(secret:)`` gives it one.
    public static func start(failFirst: Int = 0) async throws -> StandardWebhooksReceiver {
        StandardWebhooksReceiver(
            server: try await PythonServer.start(
                "webhooks",
                program: program,
                arguments: [String(failFirst)],
                missingModule: "standardwebhooks (pip install standardwebhooks)"
            )
        )
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
        server.stop()
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
        """# + "\n" + PythonServer.serveAndReport
}
