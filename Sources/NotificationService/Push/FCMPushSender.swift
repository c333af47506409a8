import AsyncHTTPClient
import Foundation

/// Sends push notifications through Firebase Cloud Messaging's HTTP v1 API, as the service
/// account of its ``FCMSettings``.
///
/// Each send posts one message to one device token with an OAuth access token, which is kept
/// and shared by all sends until shortly before it expires (see ``GoogleAccessTokens``). When
/// FCM refuses the token (a 401 without an FCM error code), it is dropped and the send is tried
/// once more with a fresh one. At most ``PushHTTPExchange/responseReadLimit`` bytes of any
/// answer are read. No detail shows an access token, the key or its signed requests, or more
/// of the device token than its end.
struct FCMPushSender: PushTransport {
    /// What the access tokens are for.
    static let scope = "https://www.googleapis.com/auth/firebase.messaging"

    let settings: FCMSettings
    private let exchange: PushHTTPExchange
    private let accessTokens: GoogleAccessTokens

    /// - Parameters:
    ///   - httpClient: The client every exchange runs on, shared with the rest of the process.
    ///   - now: The current time, for the access tokens' requests and expiry.
    init(settings: FCMSettings, httpClient: HTTPClient, now: @escaping @Sendable () -> Date = Date.init) {
        self.settings = settings
        exchange = PushHTTPExchange(httpClient: httpClient, timeout: settings.timeout)
        accessTokens = GoogleAccessTokens(account: settings.serviceAccount, scope: Self.scope, exchange: exchange, now: now)
    }

    /// Sends `message` and returns FCM's status and message name (`200 projects/p/messages/0:1`).
    ///
    /// - Throws: ``DeliveryFailure``: `gone` for the `UNREGISTERED` error code; `transient`
    ///   for `QUOTA_EXCEEDED`, `UNAVAILABLE`, `INTERNAL`, a 408, 429 or 5xx, a timeout, a
    ///   connection failure, or a 401 that a fresh access token did not cure; `permanent` for
    ///   `SENDER_ID_MISMATCH` (what a wrong project says for every device), `INVALID_ARGUMENT`,
    ///   `THIRD_PARTY_AUTH_ERROR` and any other status. A failure to get an access token is thrown as ``GoogleAccessTokens/current()``
    ///   describes.
    func send(_ message: PushMessage) async throws(DeliveryFailure) -> String {
        let body = try Self.requestBody(for: message)
        let token = try await accessTokens.current()
        if case .delivered(let answer) = try await attempt(body, to: message.deviceToken, bearer: token) {
            return answer
        }
        // FCM no longer takes the token (revoked, or expired early): one fresh token, one more try.
        await accessTokens.discard(token)
        let freshToken = try await accessTokens.current()
        switch try await attempt(body, to: message.deviceToken, bearer: freshToken) {
        case .delivered(let answer):
            return answer
        case .accessTokenRefused(let detail):
            throw .transient("\(detail), even with a fresh access token")
        }
    }

    /// What an attempt ended with, when it is not a failure to throw.
    private enum Attempt {
        case delivered(String)
        case accessTokenRefused(String)
    }

    private func attempt(_ body: [UInt8], to deviceToken: String, bearer token: String) async throws(DeliveryFailure) -> Attempt {
        let answer = try await exchange.post(
            body,
            to: settings.sendURL,
            contentType: "application/json; charset=UTF-8",
            headers: [("authorization", "Bearer \(token)")],
            peer: "FCM"
        )
        switch FCMSendOutcome(status: answer.status, body: answer.body, deviceToken: deviceToken, accessToken: token) {
        case .delivered(let text): return .delivered(text)
        case .accessTokenRefused(let detail): return .accessTokenRefused(detail)
        case .failed(let failure): throw failure
        }
    }

    /// `{"message": {"token", "notification": {"title", "body"}, "data"}}`, where `data` holds
    /// the message's pairs and its id as `notification_id`.
    private static func requestBody(for message: PushMessage) throws(DeliveryFailure) -> [UInt8] {
        var data = message.data
        data["notification_id"] = message.id
        let request = SendRequest(
            message: .init(token: message.deviceToken, notification: .init(title: message.title, body: message.body), data: data)
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let body = try? encoder.encode(request) else {
            throw .permanent("The push message \(message.id) could not be encoded as JSON")
        }
        return Array(body)
    }

    private struct SendRequest: Encodable {
        let message: Message

        struct Message: Encodable {
            let token: String
            let notification: Notification
            let data: [String: String]
        }

        struct Notification: Encodable {
            let title: String
            let body: String
        }
    }
}
