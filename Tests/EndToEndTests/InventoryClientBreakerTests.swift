import Foundation
import NIOCore
import Platform
import ProductAPI
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `HTTPInventoryClient` behind its circuit breaker, against a Products that is down, that
/// fails, or that refuses: only the first two open it, and then no call goes out.
@Suite struct InventoryClientBreakerTests {
    static let token = String(repeating: "7f", count: 20)
    static let lines = [ReservationLine(productID: 1, quantity: 1)]

    /// The client gives up on a refused connection after `timeout`: it keeps trying to
    /// connect until then.
    private func client(_ baseURL: String, metrics: ShopMetrics, timeout: TimeAmount = .seconds(10)) -> HTTPInventoryClient {
        let breaker = metrics.circuitBreaker(name: "products", configuration: .init(failureThreshold: 3, openDuration: .seconds(3600)))
        return HTTPInventoryClient(baseURL: baseURL, token: Self.token, timeout: timeout, breaker: breaker)
    }

    @Test func aClosedPortOpensTheBreakerAndThenCallsFailAtOnce() async throws {
        let metrics = ShopMetrics()
        let client = client("http://127.0.0.1:\(try CannedHTTPServer.closedPort())", metrics: metrics, timeout: .milliseconds(300))
        for attempt in 1...3 {
            await #expect(throws: InventoryClientError.self, "attempt \(attempt)") {
                try await client.reserve(id: "order-1", lines: Self.lines, expiresIn: .seconds(60))
            }
        }
        #expect(client.breaker.state == .open)

        await #expect(throws: InventoryClientError.unavailable("circuit breaker products is open")) {
            try await client.reserve(id: "order-1", lines: Self.lines, expiresIn: .seconds(60))
        }

        let exposition = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(exposition.contains(#"shop_circuit_breaker_state{breaker="products"} 2.0"#))
        #expect(exposition.contains(#"shop_circuit_breaker_rejections_total{breaker="products"} 1"#))
    }

    @Test func afterTheThresholdOf5xxAnswersNoCallReachesTheServer() async throws {
        let server = try CannedHTTPServer(status: "503 Service Unavailable", body: "")
        defer { server.stop() }
        let client = client("http://127.0.0.1:\(server.port)", metrics: ShopMetrics())
        for _ in 1...3 {
            await #expect(throws: InventoryClientError.unavailable("status 503")) { try await client.commit(id: "order-1") }
        }
        #expect(server.requests == 3)

        for _ in 1...5 {
            await #expect(throws: InventoryClientError.unavailable("circuit breaker products is open")) {
                try await client.commit(id: "order-1")
            }
        }

        #expect(server.requests == 3, "refused calls never left the client")
    }

    @Test func refusalsShowProductsIsUpAndNeverOpenTheBreaker() async throws {
        let server = try CannedHTTPServer(
            status: "409 Conflict",
            body: #"{"error":{"code":"OUT_OF_STOCK","message":"Not enough stock","field":"lines[0]"}}"#
        )
        defer { server.stop() }
        let client = client("http://127.0.0.1:\(server.port)", metrics: ShopMetrics())

        for _ in 1...6 {
            await #expect(throws: InventoryError.outOfStock(productID: 1)) {
                try await client.reserve(id: "order-1", lines: Self.lines, expiresIn: .seconds(60))
            }
        }

        #expect(server.requests == 6)
        #expect(client.breaker.state == .closed)
    }

    /// Two instances, one gone: every call is answered by the other, the gone one is
    /// tried once and then passed over, and the breaker never counts it.
    @Test func aCallGoesOnToTheNextInstanceWhenOneDoesNotAnswer() async throws {
        let server = try CannedHTTPServer(
            status: "409 Conflict",
            body: #"{"error":{"code":"OUT_OF_STOCK","message":"Not enough stock","field":"lines[0]"}}"#
        )
        defer { server.stop() }
        let gone = "http://127.0.0.1:\(try CannedHTTPServer.closedPort())"
        let metrics = ShopMetrics()
        let client = client("\(gone),http://127.0.0.1:\(server.port)/", metrics: metrics, timeout: .milliseconds(500))
        for attempt in 1...6 {
            await #expect(throws: InventoryError.outOfStock(productID: 1), "attempt \(attempt)") {
                try await client.reserve(id: "order-1", lines: Self.lines, expiresIn: .seconds(60))
            }
        }
        #expect(server.requests == 6)
        #expect(client.breaker.state == .closed)
        #expect(!String(decoding: metrics.exposition(), as: UTF8.self).contains(#"shop_circuit_breaker_state{breaker="products"} 2"#))
    }

    /// Both gone: the call fails as one failure of the service, after trying each once.
    @Test func aCallThatNoInstanceAnswersIsOneFailure() async throws {
        let list = "http://127.0.0.1:\(try CannedHTTPServer.closedPort()),http://127.0.0.1:\(try CannedHTTPServer.closedPort())"
        let client = client(list, metrics: ShopMetrics(), timeout: .milliseconds(300))
        await #expect(throws: InventoryClientError.self) { try await client.commit(id: "order-1") }
        await #expect(throws: InventoryClientError.self) { try await client.commit(id: "order-1") }
        #expect(client.breaker.state == .closed, "two calls, two failures: under the threshold of three")
        await #expect(throws: InventoryClientError.self) { try await client.commit(id: "order-1") }
        #expect(client.breaker.state == .open)
    }
}

/// An HTTP server on loopback that gives every request the same answer, then closes the
/// connection, and counts the requests it answered.
final class CannedHTTPServer: Sendable {
    let port: Int
    private let listener: Int32
    private let response: [UInt8]
    private let answered = Atomic<Int>(0)
    private let isStopped = Atomic<Bool>(false)

    /// Requests answered so far; one is counted before its answer is sent.
    var requests: Int { answered.load(ordering: .sequentiallyConsistent) }

    init(status: String, body: String) throws {
        response = Array(
            "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8
        )
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(listener, pointer, length) == 0 && getsockname(listener, pointer, &length) == 0 && listen(listener, 64) == 0
            }
        }
        guard listening else {
            close(listener)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in serve() }.start()
    }

    /// Sockets kept bound, never listening, until the test process ends (see `closedPort`).
    private static let heldPorts = Mutex<[Int32]>([])

    /// A loopback port nothing listens on, and nothing can: the socket that took it stays
    /// bound without listening, so a connection is refused, and no server another test
    /// starts meanwhile is given the same port. (Closing it at once let a busy suite hand
    /// the port to some other test's server, whose answer then counted as one.)
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            close(fd)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        heldPorts.withLock { $0.append(fd) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Stops accepting connections; the serving thread then closes the listener.
    func stop() {
        guard !isStopped.exchange(true, ordering: .sequentiallyConsistent) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func serve() {
        defer { close(listener) }
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            if readRequest(connection) {
                answered.add(1, ordering: .sequentiallyConsistent)
                _ = response.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            close(connection)
        }
    }

    /// Reads one request, its body included, so closing after the answer does not reset
    /// the connection under the client; false if the connection ended first.
    private func readRequest(_ connection: Int32) -> Bool {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let end = received.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: received[..<end.lowerBound], as: UTF8.self).lowercased()
                let contentLength =
                    head.split(separator: "\r\n")
                    .first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if received.count - end.upperBound >= contentLength { return true }
            }
            let count = recv(connection, &buffer, buffer.count, 0)
            guard count > 0 else { return false }
            received += buffer[..<count]
        }
    }
}
