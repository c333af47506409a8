import AsyncHTTPClient
import Foundation
import NIOCore

/// Makes one attempt at a webhook delivery: a POST of the JSON body, signed as Standard
/// Webhooks says, to an address the policy has just checked.
///
/// Every attempt checks the URL again and connects to exactly the address that passed (see
/// ``WebhookAddressPolicy`` for what that covers). AsyncHTTPClient pins an address per
/// client (`dnsOverride`), not per request, so each attempt runs on a short-lived client
/// sharing the event loops of the injected one, whose own configuration (redirects, proxy)
/// is deliberately not used; the price is one new connection, and TLS handshake, per
/// attempt. Redirects are never followed. At most ``responseReadLimit`` bytes of the answer
/// are read, for a short snippet in the detail. Neither the secret nor the signature ever
/// appears in a detail.
struct WebhookSender: Sendable {
    /// How much of a receiver's answer is read.
    static let responseReadLimit = 4096
    /// How many characters of it the detail shows.
    static let snippetLength = 200

    let httpClient: HTTPClient
    let policy: WebhookAddressPolicy
    /// How long an attempt may take to get the answer's head (connecting included); reading
    /// the snippet gets what is left of it.
    let timeout: Duration
    let userAgent: String

    init(httpClient: HTTPClient, policy: WebhookAddressPolicy, timeout: Duration, userAgent: String) {
        self.httpClient = httpClient
        self.policy = policy
        self.timeout = timeout
        self.userAgent = userAgent
    }

    /// Sends `delivery`, signed with `timestamp`, and returns what the receiver answered
    /// (`200 OK`, and a snippet of its body).
    ///
    /// - Throws: ``DeliveryFailure``: `transient` for a timeout, a connection failure, a host
    ///   that does not resolve, a 5xx, 408 or 429; `gone` for a 410; `permanent` for a refused
    ///   address, a redirect or any other status.
    func send(_ delivery: WebhookDelivery, at timestamp: Date) async throws(DeliveryFailure) -> String {
        let signature: WebhookSignature
        do {
            signature = try WebhookSignature(secret: delivery.secret)
        } catch {
            throw .permanent("The endpoint's signing secret is malformed")
        }
        let destination: WebhookAddressPolicy.Destination
        do {
            destination = try await policy.check(delivery.url)
        } catch {
            throw error.isTemporary ? .transient(error.message) : .permanent(error.message)
        }
        let seconds = Int64(timestamp.timeIntervalSince1970.rounded(.down))
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: userAgent)
        request.headers.add(name: WebhookSignature.idHeader, value: delivery.id)
        request.headers.add(name: WebhookSignature.timestampHeader, value: String(seconds))
        request.headers.add(
            name: WebhookSignature.signatureHeader,
            value: signature.sign(id: delivery.id, timestamp: seconds, body: delivery.body)
        )
        request.body = .bytes(ByteBuffer(bytes: delivery.body))

        let client = HTTPClient(eventLoopGroup: httpClient.eventLoopGroup, configuration: configuration(pinnedTo: destination))
        let outcome = await attempt(request, on: client)
        // Shutting down fails only when it already happened; the outcome is what matters.
        try? await client.shutdown()
        return try outcome.get()
    }

    private func configuration(pinnedTo destination: WebhookAddressPolicy.Destination) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: TimeAmount(timeout), read: TimeAmount(timeout)),
            proxy: nil,
            decompression: .disabled
        )
        // A refused connection fails this attempt at once; retrying is the schedule's job.
        configuration.connectionPool.retryConnectionEstablishment = false
        // The name still goes into SNI and certificate verification; only the address
        // connected to is fixed.
        if !destination.hostIsAddress {
            configuration.dnsOverride = [destination.host: destination.address.description]
        }
        return configuration
    }

    private func attempt(_ request: HTTPClientRequest, on client: HTTPClient) async -> Result<String, DeliveryFailure> {
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: deadline)
        } catch {
            return .failure(.transient(describe(error)))
        }
        let snippet = Self.shorten(String(decoding: await response.body.prefix(Self.responseReadLimit, until: deadline), as: UTF8.self))
        return Self.outcome(
            status: response.status.code,
            reason: response.status.reasonPhrase,
            location: response.headers.first(name: "location"),
            snippet: snippet
        )
    }

    /// What a status means for the delivery.
    static func outcome(status: UInt, reason: String, location: String?, snippet: String) -> Result<String, DeliveryFailure> {
        let answer = "\(status) \(reason)" + (snippet.isEmpty ? "" : ": \(snippet)")
        switch status {
        case 200..<300:
            return .success(answer)
        case 300..<400:
            let target = location.map { " to \(shorten($0))" } ?? ""
            return .failure(.permanent("\(status) \(reason): a redirect\(target), which webhooks do not follow"))
        case 408, 429, 500..<600:
            return .failure(.transient(answer))
        case 410:
            return .failure(.gone(answer))
        default:
            return .failure(.permanent(answer))
        }
    }

    private func describe(_ error: any Error) -> String {
        switch error as? HTTPClientError {
        case .deadlineExceeded?, .readTimeout?:
            return "No answer within \(timeout)"
        case .connectTimeout?:
            return "Could not connect within \(timeout)"
        default:
            return "Could not deliver: \(Self.shorten(String(describing: error)))"
        }
    }

    /// `text` on one line, cut to ``snippetLength`` characters.
    private static func shorten(_ text: String) -> String {
        let line = text.split(whereSeparator: { $0.isWhitespace || $0.unicodeScalars.contains { $0.properties.generalCategory == .control } })
            .joined(separator: " ")
        return line.count <= snippetLength ? line : line.prefix(snippetLength) + "…"
    }
}
