import Foundation
import Platform

/// One email, ready to hand to a ``MailTransport``: the headers a reader and a spam filter
/// expect, and a plain text body with an optional HTML alternative.
///
/// The initializer refuses anything that could break out of a header line (CR, LF and other
/// control characters in the subject, the Message-ID or an extra header), so a message that
/// exists always renders to a well-formed RFC 5322 message.
struct MailMessage: Sendable {
    let from: MailAddress
    let to: MailAddress
    let subject: String
    let text: String
    let html: String?
    /// The id part of the Message-ID, without the angle brackets: `n-abc123@shop.example`.
    let messageID: String
    let date: Date
    /// Headers the caller adds, such as `List-Unsubscribe` and `List-Unsubscribe-Post`
    /// (RFC 8058); printable ASCII only, written after the standard ones.
    let extraHeaders: [(name: String, value: String)]
    /// Chosen once, so that rendering the same message twice gives the same bytes.
    private let boundary: String

    static let maximumSubjectLength = 1000

    /// Headers this type writes itself, which an extra header must not duplicate.
    private static let ownHeaders: Set<String> = [
        "from", "to", "subject", "date", "message-id", "mime-version", "content-type", "content-transfer-encoding",
    ]

    /// Surrounding whitespace of the subject (a template's trailing newline) is dropped;
    /// a line break or control character inside it is refused.
    init(
        from: MailAddress,
        to: MailAddress,
        subject: String,
        text: String,
        html: String? = nil,
        messageID: String,
        date: Date,
        extraHeaders: [(name: String, value: String)] = []
    ) throws(InvalidValue) {
        let subject = subject.trimmingWhitespace()
        guard !subject.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw InvalidValue("The subject must not contain line breaks or control characters")
        }
        guard subject.count <= Self.maximumSubjectLength else {
            throw InvalidValue("The subject must be at most \(Self.maximumSubjectLength) characters")
        }
        guard Self.isValidMessageID(messageID) else {
            throw InvalidValue("The Message-ID must look like id@domain, in printable ASCII without <>")
        }
        var headers: [(name: String, value: String)] = []
        for header in extraHeaders {
            headers.append(try Self.validatedHeader(header))
        }
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.messageID = messageID
        self.date = date
        self.extraHeaders = headers
        // "=_" never occurs in quoted-printable text, and the random part makes a clash with
        // the headers of a part impossible in practice too.
        var generator = SystemRandomNumberGenerator()
        let random = (generator.next() as UInt64, generator.next() as UInt32)
        boundary = "=_shop_" + Self.hex(random.0, digits: 16) + Self.hex(UInt64(random.1), digits: 8)
    }

    /// The message as RFC 5322 text with CRLF line ends, in 7-bit ASCII, ending with CRLF.
    func rendered() -> String {
        var lines: [String] = [
            MIMEEncoding.foldedHeader("From", from.headerValue(lineUsed: "From: ".utf8.count)),
            MIMEEncoding.foldedHeader("To", to.headerValue(lineUsed: "To: ".utf8.count)),
            renderedSubject(),
            "Date: " + Self.rfc5322Date(date),
            "Message-ID: <" + messageID + ">",
            "MIME-Version: 1.0",
        ]
        lines += extraHeaders.map { MIMEEncoding.foldedHeader($0.name, $0.value) }
        if let html {
            lines += [
                MIMEEncoding.foldedHeader("Content-Type", "multipart/alternative; boundary=\"\(boundary)\""),
                "",
                "--" + boundary,
            ]
            lines += Self.part(text, type: "text/plain")
            lines.append("--" + boundary)
            lines += Self.part(html, type: "text/html")
            lines.append("--" + boundary + "--")
        } else {
            lines += Self.part(text, type: "text/plain")
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    private func renderedSubject() -> String {
        let used = "Subject: ".utf8.count
        if MIMEEncoding.isPlainHeaderText(subject, longestWord: MIMEEncoding.preferredLineLength - used) {
            return MIMEEncoding.foldedHeader("Subject", subject)
        }
        return MIMEEncoding.foldedHeader("Subject", MIMEEncoding.encodedWords(subject, firstLineUsed: used).joined(separator: " "))
    }

    private static func part(_ body: String, type: String) -> [String] {
        [
            "Content-Type: \(type); charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            "",
            MIMEEncoding.quotedPrintable(body),
        ]
    }

    // MARK: Validation

    private static let atext = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-.".utf8)

    /// `id-left "@" id-right` in dot-atom form (RFC 5322 3.6.4), without the brackets.
    private static func isValidMessageID(_ id: String) -> Bool {
        let parts = id.utf8.split(separator: UInt8(ascii: "@"), omittingEmptySubsequences: false)
        guard parts.count == 2, id.utf8.count <= 250 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.allSatisfy(atext.contains) && part.first != UInt8(ascii: ".") && part.last != UInt8(ascii: ".")
        }
    }

    private static func validatedHeader(_ header: (name: String, value: String)) throws(InvalidValue) -> (name: String, value: String) {
        // A field name is printable ASCII without ":" (RFC 5322 2.2).
        guard !header.name.isEmpty, header.name.utf8.allSatisfy({ (33...126).contains($0) && $0 != UInt8(ascii: ":") }) else {
            throw InvalidValue("A header name must be printable ASCII without spaces or ':'")
        }
        guard !ownHeaders.contains(header.name.lowercased()) else {
            throw InvalidValue("The \(header.name) header is written by the message itself")
        }
        let value = header.value.trimmingWhitespace()
        guard value.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
            throw InvalidValue("The value of \(header.name) must be printable ASCII on one line")
        }
        // Folding happens only at spaces: a word that cannot fit beside the name could
        // never be brought under the hard limit of 998 characters a line.
        let longestWord = value.split(separator: " ").map(\.utf8.count).max() ?? 0
        guard header.name.utf8.count + 2 + longestWord <= MIMEEncoding.maximumLineLength else {
            throw InvalidValue("The value of \(header.name) has a word too long for one header line")
        }
        return (header.name, value)
    }

    // MARK: Date

    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Tue, 01 Dec 2026 09:05:00 +0000` (RFC 5322 3.3), always in UTC.
    static func rfc5322Date(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekdays[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The low `digits` hex digits of `value`, lower case, most significant first.
    private static func hex(_ value: UInt64, digits: Int) -> String {
        String(decoding: (0..<digits).map { hexDigits[Int((value >> UInt64(4 * (digits - 1 - $0))) & 0xF)] }, as: UTF8.self)
    }
}
