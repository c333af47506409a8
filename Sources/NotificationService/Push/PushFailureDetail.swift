import Foundation

/// How the details of push failures show what the other side said: on one line, cut short,
/// and without anything that grants access or addresses a device.
enum PushFailureDetail {
    /// How many characters of a text a detail keeps.
    static let maximumLength = 200

    /// `text` on one line, cut to ``maximumLength`` characters.
    static func shortened(_ text: String) -> String {
        let line = text.split(whereSeparator: { character in
            character.isWhitespace || character.unicodeScalars.contains { $0.properties.generalCategory == .control }
        })
        .joined(separator: " ")
        return line.count <= maximumLength ? line : line.prefix(maximumLength) + "…"
    }

    /// The end of a device token (`…a1b2c3`): enough to find the device in the log, too little
    /// to send it anything. A token too short to hide that way shows none of its characters.
    static func device(_ deviceToken: String) -> String {
        deviceToken.count >= 12 ? "…" + deviceToken.suffix(6) : "…"
    }

    /// `text` with every occurrence of the device token cut to its end and every secret
    /// replaced by `***`, for a service that echoes what it was sent.
    static func redacting(_ text: String, deviceToken: String? = nil, secrets: [String] = []) -> String {
        var redacted = text
        for secret in secrets where !secret.isEmpty {
            redacted = redacted.replacingOccurrences(of: secret, with: "***")
        }
        if let deviceToken, !deviceToken.isEmpty {
            redacted = redacted.replacingOccurrences(of: deviceToken, with: device(deviceToken))
        }
        return redacted
    }
}
