public import Foundation

/// A card number as typed, checked: 12 to 19 digits (spaces and dashes allowed between
/// groups) that pass the Luhn check. Only its brand and last four digits leave memory.
public struct CardNumber: Sendable, Hashable {
    public let digits: String

    public init?(_ typed: String) {
        var digits = ""
        for character in typed.unicodeScalars {
            switch character {
            case "0"..."9": digits.unicodeScalars.append(character)
            case " ", "-": continue
            default: return nil
            }
        }
        guard (12...19).contains(digits.count), Self.passesLuhn(digits) else { return nil }
        self.digits = digits
    }

    public var last4: String { String(digits.suffix(4)) }

    /// The network, by the number's leading digits.
    public var brand: String {
        let prefix2 = Int(digits.prefix(2)) ?? 0, prefix4 = Int(digits.prefix(4)) ?? 0
        if digits.hasPrefix("4") { return "visa" }
        if (51...55).contains(prefix2) || (2221...2720).contains(prefix4) { return "mastercard" }
        if prefix2 == 34 || prefix2 == 37 { return "amex" }
        if digits.hasPrefix("6011") || digits.hasPrefix("65") { return "discover" }
        return "unknown"
    }

    public static func passesLuhn(_ digits: String) -> Bool {
        var sum = 0
        for (index, character) in digits.reversed().enumerated() {
            guard var digit = character.wholeNumberValue else { return false }
            if index % 2 == 1 {
                digit *= 2
                if digit > 9 { digit -= 9 }
            }
            sum += digit
        }
        return sum % 10 == 0
    }
}

/// A card checked before it goes anywhere: the number, the expiry, the code's shape.
public struct CheckedCard: Sendable, Hashable, CustomStringConvertible {
    public let number: CardNumber
    public let expMonth: Int
    public let expYear: Int

    /// - Throws: ``PaymentError/invalid(field:message:)`` naming the member at fault.
    public init(_ body: CardBody, field: String) throws(PaymentError) {
        guard let number = CardNumber(body.number) else {
            throw .invalid(field: "\(field).number", message: "Is not a valid card number")
        }
        guard (1...12).contains(body.expMonth) else { throw .invalid(field: "\(field).exp_month", message: "Must be from 1 to 12") }
        guard (2000...2099).contains(body.expYear) else { throw .invalid(field: "\(field).exp_year", message: "Must be a four-digit year") }
        if let cvc = body.cvc, !((3...4).contains(cvc.count) && cvc.allSatisfy(\.isASCIIDigitCharacter)) {
            throw .invalid(field: "\(field).cvc", message: "Must be 3 or 4 digits")
        }
        self.number = number
        self.expMonth = body.expMonth
        self.expYear = body.expYear
    }

    /// Whether the card is past the end of its expiry month at `now` (UTC).
    public func isExpired(at now: Date) -> Bool {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let today = calendar.dateComponents([.year, .month], from: now)
        return (expYear, expMonth) < (today.year ?? 0, today.month ?? 0)
    }

    public var resource: CardResource { CardResource(brand: number.brand, last4: number.last4, expMonth: expMonth, expYear: expYear) }

    public var description: String { "\(number.brand) ending \(number.last4)" }
}

extension PaymentMethodBody {
    /// The card checked (`nil` for a token), before anything is recorded or sent: a token of
    /// 1 to 255 visible ASCII characters, or a card whose number, expiry and code have the
    /// right shape, never both.
    /// - Throws: ``PaymentError/invalid(field:message:)`` naming the member at fault.
    public func checked(field: String = "payment_method") throws(PaymentError) -> CheckedCard? {
        switch (token, card) {
        case (let token?, nil):
            guard (1...255).contains(token.utf8.count), token.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw .invalid(field: "\(field).token", message: "Must be 1 to 255 visible ASCII characters")
            }
            return nil
        case (nil, let body?):
            return try CheckedCard(body, field: "\(field).card")
        default:
            throw .invalid(field: field, message: "Must hold either a token or a card")
        }
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
