import Foundation
import NIOCore
import Platform
import TestSupport
import Testing

@testable import NotificationService

@Suite struct MailMessageTests {
    static let shop = try! MailAddress("shop@shop.example", displayName: "Shop")
    static let customer = try! MailAddress("ada@example.com", displayName: "Ada Lovelace")
    /// Thursday 3 December 2026, 09:05:07 UTC.
    static let date = Date(timeIntervalSince1970: 1_796_288_707)

    static func message(
        from: MailAddress = shop,
        to: MailAddress = customer,
        subject: String = "Your order",
        text: String = "Hello",
        html: String? = nil,
        extraHeaders: [(name: String, value: String)] = []
    ) throws -> MailMessage {
        try MailMessage(
            from: from,
            to: to,
            subject: subject,
            text: text,
            html: html,
            messageID: "n-abc123@shop.example",
            date: date,
            extraHeaders: extraHeaders
        )
    }

    // MARK: Headers a reader sees

    @Test func aNonASCIISubjectIsSentAsUTF8EncodedWordsThatDecodeBack() throws {
        let subject = "Votre commande n° 42 est expédiée — merci ! 🎉 Ünïcödé everywhere, and then some more text to fold 日本語"
        let message = try Self.message(subject: subject)

        let rendered = message.rendered()

        let parsed = ParsedMail(rendered)
        #expect(parsed.header("Subject")?.hasPrefix("=?utf-8?B?") == true)
        #expect(parsed.decodedHeader("Subject") == subject)
    }

    @Test func aPlainASCIISubjectIsWrittenAsItIs() throws {
        let message = try Self.message(subject: "Your order 42 has shipped")

        let parsed = ParsedMail(message.rendered())

        #expect(parsed.header("Subject") == "Your order 42 has shipped")
    }

    @Test func aNonASCIIDisplayNameIsEncodedOutsideQuotes() throws {
        let from = try MailAddress("shop@shop.example", displayName: "Café Ünïon")
        let message = try Self.message(from: from)

        let parsed = ParsedMail(message.rendered())

        let value = try #require(parsed.header("From"))
        #expect(value.hasPrefix("=?utf-8?B?") && value.hasSuffix(" <shop@shop.example>"))
        #expect(parsed.decodedHeader("From") == "Café Ünïon <shop@shop.example>")
    }

    @Test func anASCIIDisplayNameIsQuotedWithItsSpecialsEscaped() throws {
        let to = try MailAddress("ada@example.com", displayName: #"Ada "Countess" Lovelace, Esq."#)
        let message = try Self.message(to: to)

        let parsed = ParsedMail(message.rendered())

        #expect(parsed.header("To") == #""Ada \"Countess\" Lovelace, Esq." <ada@example.com>"#)
    }

    @Test func theDateMessageIDAndMIMEVersionArePresent() throws {
        let message = try Self.message()

        let parsed = ParsedMail(message.rendered())

        #expect(parsed.header("Date") == "Thu, 03 Dec 2026 09:05:07 +0000")
        #expect(parsed.header("Message-ID") == "<n-abc123@shop.example>")
        #expect(parsed.header("MIME-Version") == "1.0")
        #expect(MailMessage.rfc5322Date(Date(timeIntervalSince1970: 951_782_400)) == "Tue, 29 Feb 2000 00:00:00 +0000")
        #expect(MailMessage.rfc5322Date(Date(timeIntervalSince1970: 1_798_761_599.9)) == "Thu, 31 Dec 2026 23:59:59 +0000")
        #expect(MailMessage.rfc5322Date(Date(timeIntervalSince1970: -1)) == "Wed, 31 Dec 1969 23:59:59 +0000")
    }

    @Test func listUnsubscribeHeadersAreWrittenAsGiven() throws {
        let url = "https://shop.example/unsubscribe/" + String(repeating: "t0k3n", count: 20)
        let message = try Self.message(extraHeaders: [
            ("List-Unsubscribe", "<\(url)>, <mailto:unsubscribe@shop.example?subject=n-abc123>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ])

        let parsed = ParsedMail(message.rendered())

        #expect(parsed.header("List-Unsubscribe") == "<\(url)>, <mailto:unsubscribe@shop.example?subject=n-abc123>")
        #expect(parsed.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click")
    }

    // MARK: Body

    @Test func textAloneIsOnePlainTextPart() throws {
        let message = try Self.message(text: "Héllo\nYour order has shipped.")

        let parsed = ParsedMail(message.rendered())

        #expect(parsed.boundary == nil)
        #expect(parsed.header("Content-Transfer-Encoding") == "quoted-printable")
        #expect(parsed.parts.map(\.type) == ["text/plain"])
        #expect(parsed.parts.first?.text == "Héllo\nYour order has shipped.")
    }

    @Test func textAndHTMLMakeAMultipartAlternativeWithTheTextFirst() throws {
        let text = "Your order has shipped.\n\n-- \nShop"
        let html = "<p>Your order has <b>shipped</b> — ça y est.</p>"
        let message = try Self.message(text: text, html: html)

        let rendered = message.rendered()

        let parsed = ParsedMail(rendered)
        #expect(parsed.header("Content-Type")?.hasPrefix("multipart/alternative; boundary=") == true)
        #expect(parsed.parts.map(\.type) == ["text/plain", "text/html"])
        #expect(parsed.parts.map(\.text) == [text, html])
        let boundary = try #require(parsed.boundary)
        #expect(rendered.hasSuffix("\r\n--\(boundary)--\r\n"))
        // In the Content-Type header, before each part, and at the end: nowhere else.
        #expect(rendered.components(separatedBy: boundary).count == 5)
        #expect(boundary.hasPrefix("=_shop_") && boundary.utf8.count == 31)
        #expect(boundary.dropFirst(7).allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(ParsedMail(try Self.message(text: text, html: html).rendered()).boundary != boundary)
    }

    @Test func aBoundaryLookalikeInTheTextCannotEndThePart() throws {
        let text = "--=_shop_000000000000000000000000\n=_shop_ inside text"
        let message = try Self.message(text: text, html: "<p>hi</p>")

        let parsed = ParsedMail(message.rendered())

        #expect(parsed.parts.map(\.text) == [text, "<p>hi</p>"])
    }

    @Test func linesStartingWithADotAreKeptInTheBody() throws {
        let text = ".\n.x\n..y\nend"
        let message = try Self.message(text: text)

        let parsed = ParsedMail(message.rendered())

        #expect(parsed.parts.first?.text == text)
    }

    @Test func dotStuffingDoublesALeadingDotAndEndsWithTheLoneDot() {
        let stuffed = SMTPConnection.dotStuffed(".\r\n.x\r\nmid.dle\r\nend")

        #expect(String(buffer: stuffed) == "..\r\n..x\r\nmid.dle\r\nend\r\n.\r\n")
    }

    @Test func trailingSpacesAnd8BitBytesAreEncoded() throws {
        let message = try Self.message(text: "trailing space \nnul\u{0}tab\t\nend")

        let rendered = message.rendered()

        #expect(rendered.contains("trailing space=20\r\n"))
        #expect(rendered.contains("nul=00tab=09\r\n"))
        #expect(ParsedMail(rendered).parts.first?.text == "trailing space \nnul\u{0}tab\t\nend")
    }

    /// Every spelling of a line break, long lines, and characters that need encoding at and
    /// around the place a soft break falls: each body line fits in 76 characters, and the
    /// text comes back with its breaks as LF.
    @Test func quotedPrintableKeepsTheTextWhateverItsLineBreaks() throws {
        var generator = SplitMix64(seed: 7)
        let pieces = ["x", "ab", " ", "\t", "=", "é", "€", "\u{0}", "\r\n", "\r", "\n", String(repeating: "y", count: 74), "z "]
        for _ in 0..<50 {
            var text = ""
            for _ in 0..<Int.random(in: 1...80, using: &generator) { text += pieces.randomElement(using: &generator)! }
            let encoded = MIMEEncoding.quotedPrintable(text)

            let lines = encoded.components(separatedBy: "\r\n")
            #expect(lines.allSatisfy { $0.utf8.count <= 76 && $0.utf8.allSatisfy { $0 < 0x80 && $0 != 0x0D && $0 != 0x0A } })
            let expected = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            #expect(ParsedMail(try Self.message(text: text).rendered()).parts.first?.text == expected, "\(text.debugDescription)")
        }
    }

    // MARK: Line discipline

    @Test func everyLineIsASCIIEndsInCRLFAndFitsIn78Characters() throws {
        let from = try MailAddress("shop@shop.example", displayName: String(repeating: "Bötïque ", count: 12))
        let message = try Self.message(
            from: from,
            subject: String(repeating: "long subject words ", count: 10) + String(repeating: "é", count: 120),
            text: String(repeating: "x", count: 2000) + "\n" + String(repeating: "ü", count: 500),
            html: "<p>" + String(repeating: "word ", count: 400) + "</p>",
            extraHeaders: [("List-Unsubscribe", "<https://shop.example/u/abc>, <mailto:u@shop.example?subject=abc>")]
        )

        let rendered = message.rendered()

        #expect(rendered.utf8.allSatisfy { $0 < 0x80 })
        #expect(rendered.hasSuffix("\r\n"))
        let lines = rendered.components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { !$0.contains("\r") && !$0.contains("\n") })
        let tooLong = lines.filter { $0.utf8.count > 78 }
        #expect(tooLong.isEmpty, "\(tooLong)")
        #expect(ParsedMail(rendered).decodedHeader("From")?.hasPrefix(String(repeating: "Bötïque ", count: 12)) == true)
    }

    // MARK: Header injection

    @Test(arguments: ["Hi\r\nBcc: victim@example.com", "Hi\nBcc: victim@example.com", "Hi\rthere", "tab\u{7}bell"])
    func aSubjectWithALineBreakOrControlCharacterIsRefused(subject: String) {
        #expect(throws: InvalidValue.self) { try Self.message(subject: subject) }
    }

    @Test func aSubjectsSurroundingWhitespaceIsDropped() throws {
        let message = try Self.message(subject: "  Your order\n")

        #expect(message.subject == "Your order")
    }

    @Test(arguments: [
        ("X-Note", "ok\r\nBcc: victim@example.com"),
        ("X-Note", "é is not ASCII"),
        ("X Note", "a name with a space"),
        ("X-Note:", "a name with a colon"),
        ("Subject", "a second subject"),
        ("content-type", "text/html"),
        ("X-Long", String(repeating: "a", count: 1000)),
    ])
    func anExtraHeaderThatCouldBreakTheMessageIsRefused(name: String, value: String) {
        #expect(throws: InvalidValue.self) { try Self.message(extraHeaders: [(name, value)]) }
    }

    @Test(arguments: ["ada@example.com\r\nRCPT TO:<x@y.example>", "ada@example.com\n", "ada @example.com", "not-an-address", "a@b"])
    func anAddressThatIsNotAPlainAddrSpecIsRefused(address: String) {
        #expect(throws: InvalidValue.self) { try MailAddress(address) }
    }

    @Test(arguments: ["Ada\r\nBcc: victim@example.com", "Ada\u{0}", "Ada\u{2028}Lovelace"])
    func aDisplayNameWithALineBreakOrControlCharacterIsRefused(name: String) {
        #expect(throws: InvalidValue.self) { try MailAddress("ada@example.com", displayName: name) }
    }

    @Test(arguments: ["<n-1@shop.example>", "n-1", "n 1@shop.example", "n-1@shop.example\r\nBcc: x@y.example", "a@b@c"])
    func aMessageIDThatIsNotIdAtDomainIsRefused(id: String) {
        #expect(throws: InvalidValue.self) {
            try MailMessage(from: Self.shop, to: Self.customer, subject: "s", text: "t", messageID: id, date: Self.date)
        }
    }

    @Test func renderingTheSameMessageTwiceGivesTheSameBytes() throws {
        let message = try Self.message(html: "<p>hi</p>")

        #expect(message.rendered() == message.rendered())
    }
}
