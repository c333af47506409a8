import Foundation
import Platform

/// An app installation that receives push notifications for a user: the registration
/// token its push service gave it.
struct Device: Sendable, Hashable {
    enum Platform: String, Sendable, CaseIterable, Codable {
        case android, ios, web
    }

    /// A user's devices beyond this replace the one seen longest ago.
    static let maximumPerUser = 10

    let id: String
    let userID: Int64
    let token: String
    let platform: Platform
    let createdAt: Date
    let lastSeenAt: Date

    /// A registration token as push services issue them: 16 to 1024 characters of letters,
    /// digits and `_ - : .` (FCM's are about 160; the bound keeps the unique index within
    /// PostgreSQL's limit for an index row).
    static func validatedToken(_ text: String) throws(InvalidValue) -> String {
        guard (16...1024).contains(text.utf8.count) else { throw InvalidValue("must be 16 to 1024 characters") }
        guard
            text.utf8.allSatisfy({ byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "_-:.".utf8.contains(byte)
            })
        else { throw InvalidValue("may hold only letters, digits and _ - : .") }
        return text
    }

    /// The end of the token, enough for a person to tell devices apart, never the token.
    var tokenSuffix: String { String(token.suffix(6)) }
}
