import Foundation

/// An OpenTelemetry collector as a test needs one: a Python HTTP server that takes OTLP
/// over HTTP with JSON bodies (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`) at `/v1/traces`,
/// keeps every span it is sent, and answers as a collector does.
public final class OTLPReceiver: @unchecked Sendable {
    /// One span as exported, with the `service.name` of the process that sent it.
    public struct Span: Sendable, Hashable {
        public let service: String
        public let name: String
        public let kind: Int
        public let traceID: String
        public let spanID: String
        /// Empty for a trace's root.
        public let parentSpanID: String
        public let attributes: [String: String]

        /// The trace id as W3C Trace Context and the logs write it (OTLP's JSON carries
        /// ids as base64, as protobuf's JSON mapping does for bytes).
        public var traceIDHex: String {
            guard traceID.count != 32, let bytes = Data(base64Encoded: traceID) else { return traceID.lowercased() }
            return bytes.map { String(format: "%02x", $0) }.joined()
        }
    }

    private let server: PythonServer

    public var port: Int { server.port }
    private var directory: URL { server.directory }

    /// The base URL to give as `OTEL_EXPORTER_OTLP_ENDPOINT`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    private init(server: PythonServer) {
        self.server = server
    }

    public static func start() async throws -> OTLPReceiver {
        OTLPReceiver(server: try await PythonServer.start("otlp", program: program))
    }

    /// Every span received so far.
    public func spans() throws -> [Span] {
        let file = directory.appendingPathComponent("traces.jsonl")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return [] }
        var spans: [Span] = []
        for line in text.split(separator: "\n") {
            let export = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            for resourceSpans in export["resourceSpans"] as? [[String: Any]] ?? [] {
                let resource = Self.attributes(((resourceSpans["resource"] as? [String: Any])?["attributes"]) as? [[String: Any]])
                for scopeSpans in resourceSpans["scopeSpans"] as? [[String: Any]] ?? [] {
                    for span in scopeSpans["spans"] as? [[String: Any]] ?? [] {
                        spans.append(
                            Span(
                                service: resource["service.name"] ?? "",
                                name: span["name"] as? String ?? "",
                                kind: (span["kind"] as? Int) ?? Int(span["kind"] as? String ?? "") ?? 0,
                                traceID: span["traceId"] as? String ?? "",
                                spanID: span["spanId"] as? String ?? "",
                                parentSpanID: span["parentSpanId"] as? String ?? "",
                                attributes: Self.attributes(span["attributes"] as? [[String: Any]])
                            )
                        )
                    }
                }
            }
        }
        return spans
    }

    /// Waits (60 s at most) until `enough` holds for the spans received, and returns them.
    public func wait(until enough: ([Span]) -> Bool) async throws -> [Span] {
        for _ in 0..<600 {
            let now = try spans()
            if enough(now) { return now }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try spans()
    }

    /// OTLP's key-value list, each value as text.
    private static func attributes(_ list: [[String: Any]]?) -> [String: String] {
        var result: [String: String] = [:]
        for entry in list ?? [] {
            guard let key = entry["key"] as? String, let value = entry["value"] as? [String: Any], let first = value.first else { continue }
            result[key] = "\(first.value)"
        }
        return result
    }

    public func stop() {
        server.stop()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    static let program = #"""
        import os, sys, threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        folder = sys.argv[1]
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.path == "/v1/traces" and self.headers.get("content-type", "").startswith("application/json"):
                    with lock, open(os.path.join(folder, "traces.jsonl"), "ab") as f:
                        f.write(body.replace(b"\n", b" ") + b"\n")
                    status, answer = 200, b"{}"
                else:
                    status, answer = 415, b""
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        """# + "\n" + PythonServer.serveAndReport
}
