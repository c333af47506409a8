import Crypto
public import Foundation

/// The signature scheme of Stripe's webhooks, which the `test` network uses too:
/// a header `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t." + raw body>` (more than one
/// `v1` while a secret rolls), checked in constant time, within a tolerance of the
/// timestamp against replays.
public struct WebhookSignature: Sendable {
    let key: SymmetricKey
    public let tolerance: TimeInterval

    public init(secret: String, tolerance: TimeInterval = 300) {
        self.key = SymmetricKey(data: Data(secret.utf8))
        self.tolerance = tolerance
    }

    /// The header value for `body` sent at `time`.
    public func header(for body: [UInt8], at time: Date) -> String {
        let timestamp = Int64(time.timeIntervalSince1970)
        return "t=\(timestamp),v1=\(hex(mac(timestamp: timestamp, body: body)))"
    }

    /// Checks `header` against the raw `body`.
    /// - Throws: ``ProviderError/unsignedNotice(_:)`` saying what is wrong.
    public func verify(header: String?, body: [UInt8], now: Date) throws(ProviderError) {
        guard let header, !header.isEmpty else { throw .unsignedNotice("The signature header is missing") }
        var timestamp: Int64?
        var signatures: [[UInt8]] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "t": timestamp = Int64(pair[1])
            case "v1": if let bytes = Self.bytes(hex: pair[1]) { signatures.append(bytes) }
            default: continue
            }
        }
        guard let timestamp else { throw .unsignedNotice("The signature has no timestamp") }
        guard !signatures.isEmpty else { throw .unsignedNotice("The signature has no v1 value") }
        guard abs(now.timeIntervalSince1970 - Double(timestamp)) <= tolerance else {
            throw .unsignedNotice("The signature's timestamp is outside the tolerance")
        }
        let expected = mac(timestamp: timestamp, body: body)
        // Every candidate is compared in full, so timing tells nothing about which matched.
        var matched = false
        for signature in signatures where Self.constantTimeEqual(signature, expected) { matched = true }
        guard matched else { throw .unsignedNotice("No signature matches") }
    }

    private func mac(timestamp: Int64, body: [UInt8]) -> [UInt8] {
        var authenticator = HMAC<SHA256>(key: key)
        authenticator.update(data: Array("\(timestamp).".utf8))
        authenticator.update(data: body)
        return Array(authenticator.finalize())
    }

    static func constantTimeEqual(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }

    private func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func bytes(hex: String) -> [UInt8]? {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// The members of a provider's webhook body that say which charge it is about, in the
/// shape Stripe sends (`{"id", "type", "data": {"object": {...}}}`). Read only after the
/// signature checked out.
struct WebhookBody: Decodable {
    struct Payload: Decodable {
        let object: Object
    }

    struct Object: Decodable {
        let id: String?
        let object: String?
        let paymentIntent: String?
        let metadata: [String: String]?

        enum CodingKeys: String, CodingKey {
            case id, object, metadata
            case paymentIntent = "payment_intent"
        }
    }

    let id: String
    let type: String
    let data: Payload

    /// The notice the body stands for: a refund names its charge as `payment_intent`.
    static func notice(from body: [UInt8]) throws(ProviderError) -> ProviderNotice {
        guard let decoded = try? JSONDecoder().decode(WebhookBody.self, from: Data(body)) else {
            throw .invalidNotice("The body is not a provider event")
        }
        let object = decoded.data.object
        let reference = object.object == "payment_intent" ? object.id : object.paymentIntent
        return ProviderNotice(eventID: decoded.id, type: decoded.type, reference: reference, paymentID: object.metadata?["payment_id"])
    }
}
