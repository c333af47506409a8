import Crypto
import Foundation
import Platform

/// The signed token in a one-click unsubscribe link (RFC 8058): it names the user and the
/// topic, so following it needs no login, and it cannot be made or changed without the
/// service's secret.
struct UnsubscribeToken: Sendable, Hashable {
    let userID: Int64
    let topic: Topic

    /// `<base64url of "userID.topic">.<base64url of its HMAC-SHA256>`
    func signed(with key: SymmetricKey) -> String {
        let payload = Array("\(userID).\(topic.rawValue)".utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: payload, using: key)
        return Base64URL.encode(payload) + "." + Base64URL.encode(Array(mac))
    }

    /// The token `text` stands for, or `nil` when it is malformed or its signature is wrong.
    init?(verifying text: String, with key: SymmetricKey) {
        guard text.utf8.count <= 200 else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Base64URL.decode(parts[0]), let mac = Base64URL.decode(parts[1]),
            HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: key)
        else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: ".")
        guard fields.count == 2, let userID = Int64(fields[0]), userID > 0, let topic = Topic(rawValue: String(fields[1])), topic.canUnsubscribe
        else { return nil }
        self.userID = userID
        self.topic = topic
    }

    init(userID: Int64, topic: Topic) {
        self.userID = userID
        self.topic = topic
    }
}
