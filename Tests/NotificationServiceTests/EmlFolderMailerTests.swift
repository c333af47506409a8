import Foundation
import Testing

@testable import NotificationService

@Suite struct EmlFolderMailerTests {
    @Test func aMessageIsSavedAsAnEmlFileThatParsesBack() async throws {
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("eml-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        let mailer = EmlFolderMailer(dataDirectory: dataDirectory)
        let message = try MailMessage(
            from: MailAddress("shop@shop.example", displayName: "Shop"),
            to: MailAddress("ada@example.com"),
            subject: "Commande expédiée",
            text: "Your order has shipped.",
            html: "<p>Your order has shipped.</p>",
            messageID: "n-abc/123@shop.example",
            date: Date(timeIntervalSince1970: 1_796_288_707)
        )

        let reply = try await mailer.send(message)

        let folder = dataDirectory.appendingPathComponent("outbox-mail")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(files.count == 1)
        let name = try #require(files.first)
        #expect(name.hasSuffix("-n-abc_123@shop.example.eml"))
        #expect(reply == "saved \(name)")
        let contents = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
        #expect(contents == message.rendered())
        let parsed = ParsedMail(contents)
        #expect(parsed.decodedHeader("Subject") == "Commande expédiée")
        #expect(parsed.header("Message-ID") == "<n-abc/123@shop.example>")
        #expect(parsed.parts.map(\.text) == ["Your order has shipped.", "<p>Your order has shipped.</p>"])
    }

    @Test func aFileIsNamedByItsUTCTimeToTheMillisecondAndItsIDMadeSafe() {
        #expect(OutboxFolder.timestamp(Date(timeIntervalSince1970: 1_796_288_707.1235)) == "20261203T090507.123Z")
        #expect(OutboxFolder.timestamp(Date(timeIntervalSince1970: 0)) == "19700101T000000.000Z")
        #expect(OutboxFolder.timestamp(Date(timeIntervalSince1970: 951_782_400.05)) == "20000229T000000.050Z")
        #expect(OutboxFolder.sanitized("n-1/../é x@shop.example") == "n-1_..___x@shop.example")
        #expect(OutboxFolder.sanitized("e\u{301}+tag\r\n\u{0}") == "e_+tag___")
        #expect(OutboxFolder.sanitized(String(repeating: "a", count: 150)) == String(repeating: "a", count: 100))
    }

    @Test func noTemporaryFileIsLeftBehind() async throws {
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("eml-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        let mailer = EmlFolderMailer(dataDirectory: dataDirectory)
        for number in 1...5 {
            _ = try await mailer.send(Self.numbered(number))
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: mailer.folder.path)
        #expect(files.count == 5)
        #expect(files.allSatisfy { $0.hasSuffix("@shop.example.eml") && !$0.hasPrefix(".") })
    }

    @Test func filesSortInTheOrderTheyWereWritten() async throws {
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("eml-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        let mailer = EmlFolderMailer(dataDirectory: dataDirectory)

        for number in [3, 1, 2] {
            _ = try await mailer.send(Self.numbered(number))
            try await Task.sleep(for: .milliseconds(5))
        }

        let files = try FileManager.default.contentsOfDirectory(atPath: mailer.folder.path).sorted()
        #expect(
            files.map { $0.split(separator: "-").dropFirst().joined(separator: "-") } == [
                "n-3@shop.example.eml", "n-1@shop.example.eml", "n-2@shop.example.eml",
            ]
        )
    }

    /// A short message whose Message-ID is `n-<number>@shop.example`.
    static func numbered(_ number: Int) throws -> MailMessage {
        try MailMessage(
            from: MailAddress("shop@shop.example"),
            to: MailAddress("ada@example.com"),
            subject: "Number \(number)",
            text: "t",
            messageID: "n-\(number)@shop.example",
            date: Date()
        )
    }
}
