import AsyncHTTPClient
import NIOCore

/// One POST to a push service's endpoint (FCM, Google's token endpoint) within a time limit,
/// of which at most ``responseReadLimit`` bytes of the answer are read.
///
/// Failing to get an answer at all (a timeout, a refused or dropped connection) is a transient
/// ``DeliveryFailure``; what an answer means is the caller's to say.
struct PushHTTPExchange: Sendable {
    /// How much of an answer is read.
    static let responseReadLimit = 4096

    /// A status and the start of the body.
    struct Answer: Sendable {
        let status: UInt
        /// At most ``PushHTTPExchange/responseReadLimit`` bytes: fewer when the time ran out
        /// while reading.
        let body: [UInt8]
    }

    let httpClient: HTTPClient
    /// How long an exchange may take to get the answer's head (connecting included); reading
    /// the body gets what is left of it.
    let timeout: Duration

    /// Posts `body` to `url` and returns the answer, whatever its status.
    ///
    /// - Parameter peer: How a failure's detail names the other side (`FCM`, `the token endpoint`).
    /// - Throws: ``DeliveryFailure/transient(_:)`` when no answer arrived in time or the
    ///   connection failed.
    func post(
        _ body: [UInt8],
        to url: String,
        contentType: String,
        headers: [(name: String, value: String)] = [],
        peer: String
    ) async throws(DeliveryFailure) -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: contentType)
        request.headers.add(name: "accept", value: "application/json")
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        request.body = .bytes(ByteBuffer(bytes: body))

        let deadline = NIODeadline.now() + TimeAmount(timeout)
        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(request, deadline: deadline)
        } catch {
            throw .transient(describe(error, peer: peer))
        }
        return Answer(status: response.status.code, body: await response.body.prefix(Self.responseReadLimit, until: deadline))
    }

    private func describe(_ error: any Error, peer: String) -> String {
        switch error as? HTTPClientError {
        case .deadlineExceeded?, .readTimeout?:
            return "\(peer) did not answer within \(timeout)"
        case .connectTimeout?:
            return "Could not connect to \(peer) within \(timeout)"
        default:
            return "Could not reach \(peer): \(PushFailureDetail.shortened(String(describing: error)))"
        }
    }
}
