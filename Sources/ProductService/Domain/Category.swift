import Foundation
import Platform

/// A URL-friendly name: 1 to 100 of `[a-z0-9-]`, not starting or ending with `-`.
struct Slug: Sendable, Hashable {
    let value: String

    init(_ raw: String) throws(InvalidValue) {
        guard (1...100).contains(raw.utf8.count),
            raw.utf8.allSatisfy({ (48...57).contains($0) || (97...122).contains($0) || $0 == 45 }),
            !raw.hasPrefix("-"), !raw.hasSuffix("-")
        else { throw InvalidValue("Must be 1 to 100 lower-case letters, digits and inner '-'") }
        self.value = raw
    }

    init(stored value: String) { self.value = value }

    /// The slug of a display name: letters and digits kept (accents folded), every other
    /// run of characters one '-'; `nil` when nothing is left.
    static func derived(from text: String, maxLength: Int = 100) -> Slug? {
        let folded = text.folding(options: [.diacriticInsensitive, .caseInsensitive, .widthInsensitive], locale: nil).lowercased()
        var result = ""
        var pendingDash = false
        for scalar in folded.unicodeScalars {
            let ascii = scalar.isASCII ? UInt8(scalar.value) : 0
            if (97...122).contains(ascii) || (48...57).contains(ascii) {
                if pendingDash && !result.isEmpty { result.append("-") }
                pendingDash = false
                result.unicodeScalars.append(scalar)
            } else {
                pendingDash = true
            }
        }
        while result.utf8.count > maxLength || result.hasSuffix("-") {
            result = String(result.utf8.count > maxLength ? result.prefix(maxLength) : result.dropLast())
        }
        return try? Slug(result)
    }
}

/// A node of the category tree. `path` lists the ids from the root down to this one
/// (`/1/4/9/`), so a whole subtree is one prefix.
struct Category: Sendable, Hashable {
    let id: Int64
    var slug: Slug
    var name: String
    var parentID: Int64?
    var path: String
    let createdAt: Date

    static let maxDepth = 8
}
