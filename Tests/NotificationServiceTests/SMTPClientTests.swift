import Foundation
import Logging
import TestSupport
import Testing

@testable import NotificationService

/// The client against a real SMTP server (aiosmtpd), which keeps what it accepts byte for byte.
@Suite(.enabled { await SMTPServer.isAvailable() }, .timeLimit(.minutes(2)))
struct SMTPClientTests {
    static let logger = Logger(label: "SMTPClientTests")

    static func message(to recipient: String = "ada@example.com", number: Int = 1, html: String? = nil) throws -> MailMessage {
        try MailMessage(
            from: MailAddress("shop@shop.example", displayName: "Shöp"),
            to: MailAddress(recipient),
            subject: "Votre commande n° \(number) est expédiée 🎉",
            text: "Hello,\n.\n.x\n..y\nyour order \(number) has shipped.",
            html: html,
            messageID: "n-\(number)@shop.example",
            date: Date(timeIntervalSince1970: 1_796_288_707)
        )
    }

    static func client(
        _ server: SMTPServer,
        _ url: String? = nil,
        configure: (inout SMTPSettings) -> Void = { _ in }
    ) throws -> SMTPClient {
        var settings = try SMTPSettings(url: url ?? "smtp://127.0.0.1:\(server.port)")
        configure(&settings)
        return SMTPClient(settings: settings, logger: logger)
    }

    static func failure(_ send: () async throws -> String) async -> DeliveryFailure? {
        do {
            _ = try await send()
            return nil
        } catch let failure as DeliveryFailure {
            return failure
        } catch {
            Issue.record("not a DeliveryFailure: \(error)")
            return nil
        }
    }

    static func messageID(of mail: SMTPServer.ReceivedMail) -> String? {
        String(decoding: mail.data, as: UTF8.self).components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID: ") }
    }

    // MARK: Delivery

    @Test func aMessageArrivesWithExactlyTheRenderedBytes() async throws {
        let server = try await SMTPServer.start()
        defer { server.stop() }
        let client = try Self.client(server)
        let message = try Self.message(html: "<p>Hello,</p>\n.\n<p>shipped</p>")

        let reply = try await client.send(message)

        await client.shutdown()
        #expect(reply.hasPrefix("250 2.0.0 Ok: queued as "))
        let mail = try server.receivedMail()
        #expect(mail.count == 1)
        #expect(mail.first?.data == Array(message.rendered().utf8))
        #expect(mail.first?.mailFrom == "shop@shop.example")
        #expect(mail.first?.recipients == ["ada@example.com"])
        #expect(mail.first?.mailOptions == ["SIZE=\(SMTPConnection.dotStuffed(message.rendered()).readableBytes)"])
    }

    @Test func consecutiveSendsShareOneConnection() async throws {
        let server = try await SMTPServer.start()
        defer { server.stop() }
        let client = try Self.client(server)

        for number in 1...3 { _ = try await client.send(Self.message(number: number)) }

        await client.shutdown()
        let peers = try server.receivedMail().map(\.peer)
        #expect(peers.count == 3)
        #expect(Set(peers).count == 1)
    }

    @Test func fiftyConcurrentSendsOverAPoolOfFourEachArriveExactlyOnce() async throws {
        let server = try await SMTPServer.start()
        defer { server.stop() }
        let client = try Self.client(server) { $0.poolSize = 4 }

        try await withThrowingTaskGroup(of: String.self) { group in
            for number in 1...50 { group.addTask { try await client.send(Self.message(number: number)) } }
            for try await reply in group { #expect(reply.hasPrefix("250 ")) }
        }

        await client.shutdown()
        let mail = try server.receivedMail()
        #expect(mail.count == 50)
        #expect(Set(mail.compactMap(Self.messageID)) == Set((1...50).map { "Message-ID: <n-\($0)@shop.example>" }))
        #expect(Set(mail.map(\.peer)).count <= 4)
    }

    // MARK: TLS and authentication

    @Test(arguments: ["PLAIN", "LOGIN"])
    func startTLSAndAuthDeliverOverAnEncryptedAuthenticatedSession(mechanism: String) async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = try await SMTPServer.makeCertificate(in: directory)
        var options = SMTPServer.Options()
        options.tls = certificate
        options.requireStartTLS = true
        options.user = "shop@example.com"
        options.password = "päss:wörd"
        options.excludedAuthMechanisms = mechanism == "PLAIN" ? ["LOGIN"] : ["PLAIN"]
        let server = try await SMTPServer.start(options)
        defer { server.stop() }
        let client = try Self.client(server, "smtp://shop%40example.com:p%C3%A4ss%3Aw%C3%B6rd@127.0.0.1:\(server.port)?starttls=required") {
            $0.tlsCertificateVerification = .trusting(caFile: certificate.certificate)
        }

        _ = try await client.send(Self.message())

        await client.shutdown()
        let mail = try server.receivedMail()
        #expect(mail.count == 1)
        #expect(mail.first?.tls == true)
        #expect(mail.first?.authenticatedAs == "shop@example.com")
    }

    @Test func implicitTLSDelivers() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = try await SMTPServer.makeCertificate(in: directory)
        var options = SMTPServer.Options()
        options.tls = certificate
        options.implicitTLS = true
        let server = try await SMTPServer.start(options)
        defer { server.stop() }
        let client = try Self.client(server, "smtps://127.0.0.1:\(server.port)") { $0.tlsCertificateVerification = .none }

        _ = try await client.send(Self.message())

        await client.shutdown()
        #expect(try server.receivedMail().first?.tls == true)
    }

    @Test func aCertificateTheClientDoesNotTrustStopsTheDelivery() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = SMTPServer.Options()
        options.tls = try await SMTPServer.makeCertificate(in: directory)
        let server = try await SMTPServer.start(options)
        defer { server.stop() }
        let client = try Self.client(server, "smtp://127.0.0.1:\(server.port)?starttls=required")

        let failure = await Self.failure { try await client.send(Self.message()) }

        await client.shutdown()
        #expect(failure?.kind == .transient)
        #expect(try server.receivedMail().isEmpty)
    }

    @Test func aWrongPasswordFailsPermanently() async throws {
        var options = SMTPServer.Options()
        options.user = "shop"
        options.password = "right"
        options.authRequiresTLS = false
        let server = try await SMTPServer.start(options)
        defer { server.stop() }
        let client = try Self.client(server, "smtp://shop:wrong@127.0.0.1:\(server.port)?starttls=off")

        let failure = await Self.failure { try await client.send(Self.message()) }

        await client.shutdown()
        #expect(failure?.kind == .permanent)
        #expect(failure?.detail.hasPrefix("AUTH PLAIN: 535") == true)
        #expect(failure?.detail.contains("wrong") == false)
        #expect(try server.receivedMail().isEmpty)
    }

    @Test func credentialsGoOverPlainTextToALoopbackServer() async throws {
        var options = SMTPServer.Options()
        options.user = "shop"
        options.password = "right"
        options.authRequiresTLS = false
        let server = try await SMTPServer.start(options)
        defer { server.stop() }
        let client = try Self.client(server, "smtp://shop:right@127.0.0.1:\(server.port)?starttls=off")

        _ = try await client.send(Self.message())

        await client.shutdown()
        #expect(try server.receivedMail().first?.authenticatedAs == "shop")
    }

    @Test func requiredSTARTTLSThatTheServerDoesNotOfferSendsNothing() async throws {
        let server = try await SMTPServer.start()
        defer { server.stop() }
        let client = try Self.client(server, "smtp://127.0.0.1:\(server.port)?starttls=required")

        let failure = await Self.failure { try await client.send(Self.message()) }

        await client.shutdown()
        #expect(failure?.kind == .transient)
        #expect(failure?.detail.contains("STARTTLS") == true)
        #expect(try server.receivedMail().isEmpty)
    }

    // MARK: Failures

    @Test(arguments: [
        ("refuse4xx@example.com", DeliveryFailure.Kind.transient, "RCPT TO: 450"),
        ("refuse5xx@example.com", DeliveryFailure.Kind.permanent, "RCPT TO: 550"),
    ])
    func aTemporaryRefusalIsTransientAndAPermanentOnePermanent(recipient: String, kind: DeliveryFailure.Kind, reply: String) async throws {
        let server = try await SMTPServer.start()
        defer { server.stop() }
        let client = try Self.client(server)

        let failure = await Self.failure { try await client.send(Self.message(to: recipient)) }

        await client.shutdown()
        #expect(failure?.kind == kind)
        #expect(failure?.detail.hasPrefix(reply) == true)
    }

    @Test func aServerThatNeverAnswersTheDataFailsTransientlyAfterTheTimeout() async throws {
        let server = try await SMTPServer.start()
        defer { server.stop() }
        let client = try Self.client(server) { $0.commandTimeout = .seconds(1) }

        let failure = await Self.failure { try await client.send(Self.message(to: "stall@example.com")) }

        await client.shutdown()
        #expect(failure?.kind == .transient)
        #expect(failure?.detail.contains("no reply within 1 s") == true)
    }

    @Test func aConnectionDroppedDuringTheMessageFailsTransientlyAndTheNextSendWorks() async throws {
        let server = try await SMTPServer.start()
        defer { server.stop() }
        let client = try Self.client(server) { $0.poolSize = 1 }
        _ = try await client.send(Self.message(number: 1))

        let failure = await Self.failure { try await client.send(Self.message(to: "drop@example.com", number: 2)) }

        #expect(failure?.kind == .transient)
        #expect(failure?.detail.contains("closed the connection") == true)
        _ = try await client.send(Self.message(number: 3))
        await client.shutdown()
        let mail = try server.receivedMail()
        #expect(mail.compactMap(Self.messageID) == ["Message-ID: <n-1@shop.example>", "Message-ID: <n-3@shop.example>"])
        #expect(Set(mail.map(\.peer)).count == 2)
    }

    @Test func aConnectionTheServerClosedWhileIdleIsReplacedWithoutFailingTheSend() async throws {
        var options = SMTPServer.Options()
        options.idleTimeout = 3
        let server = try await SMTPServer.start(options)
        defer { server.stop() }
        let client = try Self.client(server) { $0.poolSize = 1 }
        _ = try await client.send(Self.message(number: 1))
        try await Task.sleep(for: .seconds(6))

        _ = try await client.send(Self.message(number: 2))

        await client.shutdown()
        let mail = try server.receivedMail()
        #expect(mail.count == 2)
        #expect(Set(mail.map(\.peer)).count == 2)
    }

    @Test func aRefusedConnectionIsTransient() async throws {
        let server = try await SMTPServer.start()
        let port = server.port
        try await server.stopAndWait()
        let client = SMTPClient(settings: try SMTPSettings(url: "smtp://127.0.0.1:\(port)"), logger: Self.logger)

        let failure = await Self.failure { try await client.send(Self.message()) }

        await client.shutdown()
        #expect(failure?.kind == .transient)
        #expect(failure?.detail.hasPrefix("cannot connect to 127.0.0.1:\(port)") == true)
    }

    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }
}
