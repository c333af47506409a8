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
