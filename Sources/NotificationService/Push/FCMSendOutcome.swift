import Foundation

/// What FCM's answer to one `messages:send` means for the message.
///
/// FCM explains a refusal with a `google.rpc.Status` whose details may hold an `FcmError` and
/// its `errorCode`; the code decides when there is one, the HTTP status otherwise.
enum FCMSendOutcome: Sendable, Equatable {
    /// FCM took the message; the text is its status and message name, for the log.
    case delivered(String)
    /// A 401 without an FCM error code: FCM no longer takes the access token.
    case accessTokenRefused(String)
    case failed(DeliveryFailure)

    /// Reads FCM's answer to sending to `deviceToken` with `accessToken`, neither of which the
    /// detail shows (FCM may echo them).
    init(status: UInt, body: [UInt8], deviceToken: String, accessToken: String) {
        if (200..<300).contains(status) {
            let name = (try? JSONDecoder().decode(Sent.self, from: Data(body)))?.name
            self = .delivered(name.map { "\(status) \(PushFailureDetail.shortened($0))" } ?? "\(status)")
            return
        }
        let refusal = (try? JSONDecoder().decode(Refusal.self, from: Data(body)))?.error
        let errorCode = refusal?.errorCode
        let explanation: String
        if let refusal {
            let names = [refusal.status, errorCode].compactMap { $0 }.joined(separator: " ")
            explanation = [names, refusal.message ?? ""].filter { !$0.isEmpty }.joined(separator: ": ")
        } else {
            explanation = String(decoding: body, as: UTF8.self)
        }
        let shown = PushFailureDetail.shortened(PushFailureDetail.redacting(explanation, deviceToken: deviceToken, secrets: [accessToken]))
        let detail = (shown.isEmpty ? "\(status)" : "\(status) \(shown)") + " (device \(PushFailureDetail.device(deviceToken)))"

        switch (errorCode, status) {
        // The app was uninstalled or the token expired: it will never take a message again.
        case ("UNREGISTERED", _):
            self = .failed(.gone(detail))
        // The token belongs to another sender. That is also what every push says when this
        // service is set up with the wrong project or account, so it forgets no device: a
        // misconfiguration must not wipe every user's devices.
        // THIRD_PARTY_AUTH_ERROR comes with a 401, but about the APNs certificate or web push
        // key in the Firebase project, not about the access token.
        case ("SENDER_ID_MISMATCH", _), ("INVALID_ARGUMENT", _), ("THIRD_PARTY_AUTH_ERROR", _):
            self = .failed(.permanent(detail))
        case ("QUOTA_EXCEEDED", _), ("UNAVAILABLE", _), ("INTERNAL", _):
            self = .failed(.transient(detail))
        case (_, 401):
            self = .accessTokenRefused(detail)
        case (_, 408), (_, 429), (_, 500..<600):
            self = .failed(.transient(detail))
        default:
            self = .failed(.permanent(detail))
        }
    }

    /// FCM's answer to a message it took.
    private struct Sent: Decodable {
        let name: String?
    }

    /// FCM's answer to a message it refused: `{"error": google.rpc.Status}`.
    private struct Refusal: Decodable {
        let error: Status

        struct Status: Decodable {
            let message: String?
            /// The canonical code's name (`NOT_FOUND`, `UNAVAILABLE`).
            let status: String?
            let details: [Detail]?

            /// The `errorCode` of the `FcmError` detail, or of any detail when none is typed so.
            var errorCode: String? {
                let details = details ?? []
                let fcmError = details.first { $0.type?.hasSuffix("google.firebase.fcm.v1.FcmError") == true && $0.errorCode != nil }
                return (fcmError ?? details.first { $0.errorCode != nil })?.errorCode
            }
        }

        struct Detail: Decodable {
            let type: String?
            let errorCode: String?

            enum CodingKeys: String, CodingKey {
                case type = "@type"
                case errorCode
            }
        }
    }
}
