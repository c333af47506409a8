import Platform

/// A mailbox for the From and To headers and the SMTP envelope: an address, and a name to
/// show beside it.
///
/// Only a plausible ASCII `local@domain` (as ``Platform/EmailAddress`` accepts it) and a
/// display name without control characters get in, so neither can smuggle a line break
/// into a header or an SMTP command.
struct MailAddress: Sendable, Hashable, CustomStringConvertible {
    /// The addr-spec, as it goes into `MAIL FROM:<...>` and `RCPT TO:<...>`.
    let address: String
    /// The name shown to the reader, if any.
    let displayName: String?

    static let maximumDisplayNameLength = 200

    init(_ address: String, displayName: String? = nil) throws(InvalidValue) {
        // EmailAddress trims surrounding whitespace, which would let "a@b\r\n" through.
        guard !address.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == " " }) else {
            throw InvalidValue("An email address must not contain spaces or control characters")
        }
        self.address = try EmailAddress(address).value
        if let displayName, !displayName.isEmpty {
            guard !displayName.unicodeScalars.contains(where: Self.isForbiddenInName) else {
                throw InvalidValue("A display name must not contain line breaks or control characters")
            }
            guard displayName.count <= Self.maximumDisplayNameLength else {
                throw InvalidValue("A display name must be at most \(Self.maximumDisplayNameLength) characters")
            }
            self.displayName = displayName
        } else {
            self.displayName = nil
        }
    }

    private static func isForbiddenInName(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    /// The mailbox as a header value: `"Name" <a@b>`, the name as RFC 2047 encoded-words
    /// when it is not printable ASCII, or the bare address without a name.
    ///
    /// `lineUsed` is how much of the first line the header name already takes, so the
    /// first encoded-word still fits in 78 characters.
    func headerValue(lineUsed: Int = 0) -> String {
        guard let displayName else { return address }
        let bracketed = "<" + address + ">"
        if MIMEEncoding.isPlainHeaderText(displayName, longestWord: MIMEEncoding.preferredLineLength - 10) {
            let escaped = displayName.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"" + escaped + "\" " + bracketed
        }
        // Encoded-words may not stand inside a quoted string, so they go bare (RFC 2047 5.3).
        return (MIMEEncoding.encodedWords(displayName, firstLineUsed: lineUsed) + [bracketed]).joined(separator: " ")
    }

    var description: String { headerValue() }
}
