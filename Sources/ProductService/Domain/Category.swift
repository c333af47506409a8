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
