import Crypto
import Foundation
import Platform

/// A phone number in E.164 (`+4915112345678`): a plus, then 8 to 15 digits, the first not
/// zero. Spaces, dots, dashes and brackets a person types are taken out; anything else is
/// refused, so what is stored is what a provider dials.
struct PhoneNumber: Sendable, Hashable, CustomStringConvertible {
    let e164: String

    init(_ text: String) throws(InvalidValue) {
        guard text.utf8.count <= 40 else { throw InvalidValue("is too long") }
        let kept = text.filter { !" .-()".contains($0) }
        guard kept.hasPrefix("+") else { throw InvalidValue("must be in international format, starting with + and the country code") }
        let digits = kept.dropFirst()
        guard (8...15).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.first != "0" else {
            throw InvalidValue("must be + and 8 to 15 digits (E.164), such as +4915112345678")
        }
        e164 = kept
    }

    /// Checked at the door: only numbers that passed ``init(_:)`` are stored.
    init(stored: String) {
        e164 = stored
    }

    /// The number for logs and details: `+49•••••••78`.
    var masked: String { Self.mask(e164) }

    var description: String { masked }

    static func mask(_ number: String) -> String {
        guard number.count > 4 else { return "•••" }
        return String(number.prefix(3)) + String(repeating: "•", count: number.count - 5) + String(number.suffix(2))
    }
}

/// The six-digit code that proves a user holds the phone they entered.
///
/// The code is never stored: it is an HMAC of the user, the number and a random nonce under
/// the service's secret, truncated to six digits. The database keeps the nonce (useless
/// without the secret), the sender computes the code when it renders the SMS, and checking
/// a code computes it again.
struct VerificationCode: Sendable {
    /// How long a code can be used.
    static let lifetime: TimeInterval = 600
    /// Wrong codes allowed before a new one must be asked for.
    static let maximumAttempts = 5
    /// Codes sent to one user in ``sendWindow``, and to one number whoever asks: SMS cost
    /// money, and unverified numbers are how SMS-pumping fraud is paid for.
    static let maximumSends = 5
    static let sendWindow: TimeInterval = 3600

    let key: SymmetricKey

    func code(userID: Int64, phone: String, nonce: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("phone-verification.\(userID).\(phone).\(nonce)".utf8), using: key)
        let bytes = Array(mac)
        // The first four bytes as a number, six decimal digits of it: no digit is more likely
        // than another beyond 2^32 / 10^6 (under one in four thousand).
        let value = bytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } % 1_000_000
        let text = String(value)
        return String(repeating: "0", count: 6 - text.count) + text
    }

    /// Whether `candidate` is the code, compared in constant time.
    func matches(_ candidate: String, userID: Int64, phone: String, nonce: String) -> Bool {
        let expected = Array(code(userID: userID, phone: phone, nonce: nonce).utf8)
        let given = Array(candidate.utf8)
        guard given.count == expected.count else { return false }
        return zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
