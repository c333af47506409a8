import Crypto
import Foundation
import OrderAPI
import Platform
import ProductAPI
import ServiceContract

/// A cart as the service keeps it: lines of product ids and quantities, never prices.
struct Cart: Sendable, Hashable {
    enum State: String, Sendable, Hashable {
        /// Being filled.
        case open
        /// A guest cart moved into a customer's at login.
        case merged
        /// Checked out: its order was confirmed.
        case ordered
    }

    var id: String
    var customerID: Int64?
    var state: State
    var lines: [Line]
    var updatedAt: Date
    /// The order a checkout of this cart is making: its lines cannot change until it ends.
    var orderID: String? = nil

    struct Line: Sendable, Hashable {
        var productID: Int64
        var quantity: Int
    }
}

/// The rules of carts.
enum CartRules {
    /// At most this many products in one cart.
    static let maxLines = 50
    /// At most this many units of one product.
    static let maxQuantity = 99

    /// A cart's id: `cart_` and 24 hex digits, later ones sorting after earlier ones.
    static func newID() -> String {
        RandomID.timeOrdered("cart")
    }

    static func isID(_ raw: String) -> Bool {
        RandomID.isValid(raw, prefix: "cart")
    }

    /// `product` (what the catalog found for `productID`) when it may go into a cart whose
    /// other products are priced in `cartCurrency` (`nil`: none yet): it exists, is for
    /// sale, and is in that currency.
    static func sellable(_ productID: Int64, _ product: CatalogProduct?, cartCurrency: String?) throws(CartError) -> CatalogProduct {
        guard let product else { throw .unknownProduct(productID) }
        guard product.status == .active else { throw .notForSale(productID) }
        if let cartCurrency, cartCurrency != product.currency {
            throw .otherCurrency(product: productID, currency: product.currency, cart: cartCurrency)
        }
        return product
    }

    /// A new cart's lines as given, set in order as one `PUT` each would set them: a
    /// product given twice keeps its first place and its last quantity.
    static func firstLines(_ given: [Cart.Line]) -> [Cart.Line] {
        var lines: [Cart.Line] = []
        for line in given {
            if let earlier = lines.firstIndex(where: { $0.productID == line.productID }) {
                lines[earlier].quantity = line.quantity
            } else {
                lines.append(line)
            }
        }
        return lines
    }
}

/// A guest cart's secret, `X-Cart-Token: <cart id>.<256 random bits, base64url>`: the id
/// finds the cart, the secret proves the holder; only its SHA-256 is stored.
struct CartToken: Sendable, Hashable {
    let cartID: String
    let secret: String

    static func make(for cartID: String) -> CartToken {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8]()
        for _ in 0..<4 {
            withUnsafeBytes(of: (generator.next() as UInt64).littleEndian) { bytes.append(contentsOf: $0) }
        }
        let secret = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return CartToken(cartID: cartID, secret: secret)
    }

    /// The token a client sent, if it has the token's shape.
    init?(presented: String) {
        let parts = presented.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, CartRules.isID(String(parts[0])), (20...64).contains(parts[1].utf8.count) else { return nil }
        cartID = String(parts[0])
        secret = String(parts[1])
    }

    private init(cartID: String, secret: String) {
        self.cartID = cartID
        self.secret = secret
    }

    var value: String { "\(cartID).\(secret)" }

    var hash: String { Hexadecimal.encode(SHA256.hash(data: Data(secret.utf8))) }
}

/// Why a cart call was refused.
enum CartError: Error, Sendable, Hashable {
    /// No such cart, or not the caller's (a wrong token reads as no cart).
    case notFound
    case unknownProduct(Int64)
    case notForSale(Int64)
    case tooManyLines
    case otherCurrency(product: Int64, currency: String, cart: String)
    /// Merging needs a signed-in customer and a guest cart.
    case notMergeable(String)
    /// A checkout of the cart is under way.
    case checkingOut(orderID: String)
}
