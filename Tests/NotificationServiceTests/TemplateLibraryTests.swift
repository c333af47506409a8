import Foundation
import Testing

@testable import NotificationService

@Suite struct TemplateLibraryTests {
    @Test func aLocaleFallsBackToItsLanguageThenToEnglish() throws {
        let library = try TemplateLibrary()
        var context = MessageContext(name: "Zoë", email: "zoe@example.com")
        context.shopName = "Shop"

        #expect(try library.render(.welcome, locale: "de-AT", context: context).subject == "Willkommen bei Shop, Zoë")
        #expect(try library.render(.welcome, locale: "fr", context: context).subject == "Welcome to Shop, Zoë")
        #expect(TemplateLibrary.fallbacks(of: "zh-Hant-TW") == ["zh-Hant-TW", "zh-Hant", "zh", "en"])
    }

    /// The values templates render from are built directly from the context; they render
    /// exactly as the context's JSON does (what they were made from before), for every kind
    /// and built-in locale, with every member set and with few.
    @Test func valuesBuiltDirectlyRenderAsTheContextsJSONDoes() throws {
        let library = try TemplateLibrary()
        var full = MessageContext(name: "Zoë <b>", email: "zoe@example.com")
        full.orderID = "ord_0123"
        full.lines = [
            MessageContext.Line(name: "Kettle & co", sku: "K-1", quantity: 2, unitPrice: "39.00 EUR", lineTotal: "78.00 EUR"),
            MessageContext.Line(name: "Lamp", sku: "L-1", quantity: 1, unitPrice: "25.00 EUR", lineTotal: "25.00 EUR"),
        ]
        full.subtotal = "103.00 EUR"
        full.total = "103.00 EUR"
        full.amountRefunded = "25.00 EUR"
        full.trackingNumber = "1Z999"
        full.carrier = "UPS"
        full.reason = "changed my mind"
        full.failureMessage = "Your card was declined."
        full.productID = 42
        full.available = 0
        full.threshold = 5
        full.verificationNonce = "nonce"
        full.userID = 7
        full.code = "123456"
        full.shopName = "Shop"
        full.unsubscribeURL = "https://shop.example/api/v1/unsubscribe?token=t"
        for context in [full, MessageContext(name: "Ada")] {
            let reference = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(context)) as? [String: Any] ?? [:]
            #expect(Set(context.templateValues().keys) == Set(reference.keys))
            for kind in NotificationKind.allCases {
                for locale in ["en", "de", "fr"] {
                    #expect(
                        library.render(kind, locale: locale, values: context.templateValues())
                            == library.render(kind, locale: locale, values: reference),
                        "\(kind) in \(locale)"
                    )
                }
            }
        }
    }

    @Test func anOperatorsFileReplacesTheBuiltInOneAndAddsALanguage() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "Bienvenue, {{name}} & co".write(to: folder.appendingPathComponent("welcome.fr.subject.mustache"), atomically: true, encoding: .utf8)
        try "Salut {{name}}".write(to: folder.appendingPathComponent("welcome.fr.text.mustache"), atomically: true, encoding: .utf8)

        let library = try TemplateLibrary(directory: folder.path)
        let message = try library.render(.welcome, locale: "fr", context: MessageContext(name: "Zoë <b>"))

        // Subjects and text bodies are text: nothing is escaped in them.
        #expect(message.subject == "Bienvenue, Zoë <b> & co")
        #expect(message.text == "Salut Zoë <b>")
        #expect(message.html == nil)
    }

    @Test func aFileNamedForNothingWeSendStopsTheStart() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "x".write(to: folder.appendingPathComponent("welcom.en.subject.mustache"), atomically: true, encoding: .utf8)

        #expect(throws: TemplateLibrary.InvalidTemplate.self) { try TemplateLibrary(directory: folder.path) }
    }

    @Test func smsAndPushHaveTheirOwnPartsAndFallBackLikeMail() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "{{shop_name}}: colis {{order_id}} en route".write(
            to: folder.appendingPathComponent("order_shipped.fr.sms.mustache"),
            atomically: true,
            encoding: .utf8
        )
        try "En route\n{{order_id}}".write(
            to: folder.appendingPathComponent("order_shipped.fr.push_title.mustache"),
            atomically: true,
            encoding: .utf8
        )
        try "Suivi : {{tracking_number}}".write(
            to: folder.appendingPathComponent("order_shipped.fr.push_body.mustache"),
            atomically: true,
            encoding: .utf8
        )
        let library = try TemplateLibrary(directory: folder.path)
        var context = MessageContext()
        (context.shopName, context.orderID, context.trackingNumber) = ("Shop", "ord_1", "1Z & 2")

        #expect(try library.renderSMS(.orderShipped, locale: "fr-CA", context: context) == "Shop: colis ord_1 en route")
        // A push title is one line; nothing is escaped (a lock screen is not HTML).
        #expect(
            try library.renderPush(.orderShipped, locale: "fr", context: context) == RenderedPush(title: "En route ord_1", body: "Suivi : 1Z & 2")
        )
        #expect(try library.renderSMS(.orderShipped, locale: "it", context: context) == "Shop: order ord_1 is on its way. Tracking: 1Z & 2")
        context.code = "012345"
        #expect(try library.renderSMS(.phoneVerification, locale: "de", context: context).hasPrefix("012345 ist Ihr Bestätigungscode"))
    }

    @Test func everyChannelOfAKindNeedsItsEnglishParts() throws {
        for kind in NotificationKind.allCases {
            for channel in kind.channels {
                for part in TemplateLibrary.requiredParts(of: channel) {
                    #expect(DefaultTemplates.all["\(kind.rawValue).en.\(part)"] != nil, "\(kind.rawValue).en.\(part)")
                }
            }
        }
        // An operator's empty folder is fine; a file for a part we do not send is not.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "x".write(to: folder.appendingPathComponent("welcome.en.fax.mustache"), atomically: true, encoding: .utf8)
        #expect(throws: TemplateLibrary.InvalidTemplate.self) { try TemplateLibrary(directory: folder.path) }
    }

    @Test func aSubjectIsOneLineWhateverItsValuesHold() throws {
        var context = MessageContext(name: "Eve\r\nBcc: victim@example.com")
        context.shopName = "Shop"
        let subject = try TemplateLibrary().render(.welcome, locale: "en", context: context).subject
        #expect(!subject.contains("\n") && !subject.contains("\r"))
    }

    @Test func moneyIsShownInItsCurrencysDecimals() {
        #expect(MoneyText.format(1250, "EUR") == "12.50 EUR")
        #expect(MoneyText.format(5, "USD") == "0.05 USD")
        #expect(MoneyText.format(1200, "JPY") == "1200 JPY")
        #expect(MoneyText.format(1234, "KWD") == "1.234 KWD")
        #expect(MoneyText.format(-150, "EUR") == "-1.50 EUR")
    }
}
