import Foundation
import Platform

/// The values a message template can show, kept with the notification (as JSON) so that a
/// retry or a replay renders what the event said, whatever has changed since.
///
/// Members that do not apply are absent, so `{{#tracking_number}}…{{/tracking_number}}`
/// shows its section only when there is one.
struct MessageContext: Codable, Sendable, Hashable {
    struct Line: Codable, Sendable, Hashable {
        var name: String
        var sku: String
        var quantity: Int
        var unitPrice: String
        var lineTotal: String

        enum CodingKeys: String, CodingKey {
            case name, sku, quantity
            case unitPrice = "unit_price"
            case lineTotal = "line_total"
        }
    }

    var name: String?
    var email: String?
    var orderID: String?
    var lines: [Line]?
    var subtotal: String?
    var total: String?
    var amountRefunded: String?
    var trackingNumber: String?
    var carrier: String?
    var reason: String?
    var failureMessage: String?
    var productID: Int64?
    var available: Int?
    var threshold: Int?
    /// A phone verification's nonce and user, from which the sender computes the code.
    var verificationNonce: String?
    var userID: Int64?
    /// The verification code, computed when the SMS is rendered, never stored.
    var code: String?
    /// Added when the message is rendered, never stored.
    var shopName: String?
    /// The one-click link (POST only, RFC 8058), for a template that explains it.
    var unsubscribeURL: String?

    enum CodingKeys: String, CodingKey {
        case name, email, lines, subtotal, total, carrier, reason, available, threshold
        case orderID = "order_id"
        case amountRefunded = "amount_refunded"
        case trackingNumber = "tracking_number"
        case failureMessage = "failure_message"
        case productID = "product_id"
        case shopName = "shop_name"
        case verificationNonce = "verification_nonce"
        case userID = "user_id"
        case code
        case unsubscribeURL = "unsubscribe_url"
    }

    init(name: String? = nil, email: String? = nil) {
        self.name = name
        self.email = email
    }

    /// The JSON kept in the delivery log.
    func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    static func decoded(_ json: String) throws -> MessageContext {
        try JSONTapeDecoder.decode(MessageContext.self, from: Data(json.utf8))
    }

    /// The values as plain dictionaries and arrays, the shape templates render from: every
    /// member that is set, under the name ``encoded()`` gives it. Built directly: a JSON
    /// round trip per message was a tenth of a receipt's cost.
    func templateValues() -> [String: Any] {
        var values: [String: Any] = [:]
        func set(_ key: CodingKeys, _ value: Any?) {
            if let value { values[key.rawValue] = value }
        }
        set(.name, name)
        set(.email, email)
        set(.orderID, orderID)
        set(.lines, lines?.map { $0.templateValues() })
        set(.subtotal, subtotal)
        set(.total, total)
        set(.amountRefunded, amountRefunded)
        set(.trackingNumber, trackingNumber)
        set(.carrier, carrier)
        set(.reason, reason)
        set(.failureMessage, failureMessage)
        set(.productID, productID)
        set(.available, available)
        set(.threshold, threshold)
        set(.verificationNonce, verificationNonce)
        set(.userID, userID)
        set(.code, code)
        set(.shopName, shopName)
        set(.unsubscribeURL, unsubscribeURL)
        return values
    }
}

extension MessageContext.Line {
    func templateValues() -> [String: Any] {
        [
            CodingKeys.name.rawValue: name, CodingKeys.sku.rawValue: sku, CodingKeys.quantity.rawValue: quantity,
            CodingKeys.unitPrice.rawValue: unitPrice, CodingKeys.lineTotal.rawValue: lineTotal,
        ]
    }
}

/// Money as people read it: minor units in the currency's own number of decimals, then the
/// ISO code (`12.34 EUR`, `1200 JPY`).
enum MoneyText {
    static func format(_ amount: Int64, _ currency: String) -> String {
        let decimals = decimals(of: currency)
        guard decimals > 0 else { return "\(amount) \(currency)" }
        let scale = Int64(pow(10, Double(decimals)))
        let sign = amount < 0 ? "-" : ""
        let magnitude = amount.magnitude
        let fraction = String(magnitude % UInt64(scale))
        return "\(sign)\(magnitude / UInt64(scale)).\(String(repeating: "0", count: decimals - fraction.count))\(fraction) \(currency)"
    }

    /// ISO 4217's minor units for the currencies that differ from two.
    static func decimals(of currency: String) -> Int {
        switch currency.uppercased() {
        case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF": 0
        case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND": 3
        default: 2
        }
    }
}
