import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// One SMTP session with the server, past the greeting, EHLO, STARTTLS and AUTH, ready to
/// carry one message after another (RFC 5321 3.3).
///
/// Every failure is thrown as ``DeliveryFailure``, saying in which step it happened, and
/// leaves the connection closed: ``SMTPClient`` then drops it from its pool.
final class SMTPConnection: Sendable {
    private let channel: any Channel
    private let settings: SMTPSettings
    /// The EHLO keywords, upper-cased, with their parameters (`SIZE` → `["10240000"]`).
    let capabilities: [String: [String]]

    private init(channel: any Channel, settings: SMTPSettings, capabilities: [String: [String]]) {
        self.channel = channel
        self.settings = settings
        self.capabilities = capabilities
    }

    var isActive: Bool { channel.isActive }

    /// Connects and says hello: TLS first for `smtps`, STARTTLS when the settings ask for it,
    /// then AUTH when there are credentials.
    static func open(settings: SMTPSettings, tls: NIOSSLContext?, logger: Logger) async throws -> SMTPConnection {
        guard SMTPSettings.isValidHeloName(settings.heloName) else {
            throw DeliveryFailure.transient("the HELO name \(settings.heloName) is not a domain name or address literal")
        }
        let serverName = settings.hostIsIPAddress ? nil : settings.host
        let implicitTLS = settings.security == .implicitTLS ? tls : nil
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(settings.connectTimeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let implicitTLS {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: implicitTLS, serverHostname: serverName))
                        }
                        try channel.pipeline.syncOperations.addHandler(SMTPReplyHandler())
                    }
                }
                .connect(host: settings.host, port: settings.port)
                .get()
        } catch {
            throw DeliveryFailure.transient("cannot connect to \(settings.host):\(settings.port): \(error)")
        }
        logger.debug("SMTP connection opened", metadata: ["smtp.server": "\(settings.host):\(settings.port)"])
        do {
            return try await handshake(channel: channel, settings: settings, tls: tls, serverName: serverName)
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    private static func handshake(
        channel: any Channel,
        settings: SMTPSettings,
        tls: NIOSSLContext?,
        serverName: String?
    ) async throws
        -> SMTPConnection
    {
        let timeout = TimeAmount(settings.commandTimeout)
        try expect(await exchange(nil, on: channel, timeout: timeout, step: "greeting"), 220, step: "greeting")
        var capabilities = try await hello(on: channel, settings: settings)
        var encrypted = settings.security == .implicitTLS
        let wantsTLS = settings.security == .startTLSRequired || settings.security == .startTLSIfOffered
        if wantsTLS, capabilities["STARTTLS"] != nil, let tls {
            let reply = try await exchange(
                SMTPCommand(
                    bytes: ByteBuffer(string: "STARTTLS\r\n"),
                    timeout: timeout,
                    reply: channel.eventLoop.makePromise(),
                    mustBeLastBeforeTLS: true
                ),
                on: channel,
                step: "STARTTLS"
            )
            try expect(reply, 220, step: "STARTTLS")
            do {
                try await channel.eventLoop.submit {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName), position: .first)
                }.get()
            } catch {
                throw DeliveryFailure.transient("STARTTLS: \(error)")
            }
            // The capabilities before TLS may have been forged: ask again (RFC 3207 4.2).
            capabilities = try await hello(on: channel, settings: settings)
            encrypted = true
        } else if settings.security == .startTLSRequired {
            throw DeliveryFailure.transient("STARTTLS is required (SMTP_URL starttls=required) but the server does not offer it")
        }
        let connection = SMTPConnection(channel: channel, settings: settings, capabilities: capabilities)
        if let credentials = settings.credentials {
            guard settings.mayAuthenticate(encrypted: encrypted) else {
                throw DeliveryFailure.transient(
                    "refusing to send the SMTP password over an unencrypted connection to \(settings.host) (use smtps:// or starttls=required)"
                )
            }
            try await connection.authenticate(credentials)
        }
        return connection
    }

    /// EHLO, or HELO from a server too old for extensions (which then has none).
    private static func hello(on channel: any Channel, settings: SMTPSettings) async throws -> [String: [String]] {
        let timeout = TimeAmount(settings.commandTimeout)
        let reply = try await exchange("EHLO \(settings.heloName)", on: channel, timeout: timeout, step: "EHLO")
        if reply.code >= 500 {
            try expect(await exchange("HELO \(settings.heloName)", on: channel, timeout: timeout, step: "HELO"), 250, step: "HELO")
            return [:]
        }
        try expect(reply, 250, step: "EHLO")
        var capabilities: [String: [String]] = [:]
        for line in reply.lines.dropFirst() {
            // Old servers wrote "AUTH=LOGIN PLAIN"; it means the same as "AUTH LOGIN PLAIN".
            let words = line.replacingOccurrences(of: "=", with: " ").split(separator: " ").map(String.init)
            guard let keyword = words.first?.uppercased() else { continue }
            capabilities[keyword, default: []] += words.dropFirst().map { $0.uppercased() }
        }
        return capabilities
    }

    /// AUTH PLAIN when offered, else AUTH LOGIN. A 5xx reply is a wrong user name or
    /// password, which no retry mends: permanent. The payloads go only to the channel.
    private func authenticate(_ credentials: SMTPSettings.Credentials) async throws {
        let mechanisms = capabilities["AUTH"] ?? []
        if mechanisms.contains("PLAIN") {
            let token = Data("\0\(credentials.username)\0\(credentials.password)".utf8).base64EncodedString()
            try Self.expect(await command("AUTH PLAIN \(token)", step: "AUTH PLAIN"), 235, step: "AUTH PLAIN")
        } else if mechanisms.contains("LOGIN") {
            try Self.expect(await command("AUTH LOGIN", step: "AUTH LOGIN"), 334, step: "AUTH LOGIN")
            let user = Data(credentials.username.utf8).base64EncodedString()
            try Self.expect(await command(user, step: "AUTH LOGIN"), 334, step: "AUTH LOGIN")
            let password = Data(credentials.password.utf8).base64EncodedString()
            try Self.expect(await command(password, step: "AUTH LOGIN"), 235, step: "AUTH LOGIN")
        } else {
            throw DeliveryFailure.transient("the server offers neither AUTH PLAIN nor AUTH LOGIN, and SMTP_URL has credentials")
        }
    }

    /// Sends one message: MAIL FROM, RCPT TO, DATA, then the message dot-stuffed. Returns
    /// the server's reply to the end of the data (`250 ... queued as ...`).
    func deliver(_ message: MailMessage) async throws -> SMTPReply {
        let data = Self.dotStuffed(message.rendered())
        var mailFrom = "MAIL FROM:<\(message.from.address)>"
        // The message is 7-bit ASCII and the addresses are ASCII, so neither BODY=8BITMIME
        // nor SMTPUTF8 is ever needed; SIZE lets a server refuse a too large message early.
        if let size = capabilities["SIZE"] {
            if let limit = size.first.flatMap(Int.init), limit > 0, data.readableBytes > limit {
                throw DeliveryFailure.permanent("the message is \(data.readableBytes) bytes; the server accepts at most \(limit)")
            }
            mailFrom += " SIZE=\(data.readableBytes)"
        }
        try Self.expect(await command(mailFrom, step: "MAIL FROM"), 250, step: "MAIL FROM")
        let recipient = try await command("RCPT TO:<\(message.to.address)>", step: "RCPT TO")
        try Self.expect(recipient, [250, 251], step: "RCPT TO")
        try Self.expect(await command("DATA", step: "DATA"), 354, step: "DATA")
        let reply = try await Self.exchange(
            SMTPCommand(bytes: data, timeout: TimeAmount(settings.commandTimeout), reply: channel.eventLoop.makePromise()),
            on: channel,
            step: "end of data"
        )
        try Self.expect(reply, 250, step: "end of data")
        return reply
    }

    /// RSET: makes sure the connection still works before it carries another message.
    func reset() async throws {
        try Self.expect(await command("RSET", step: "RSET"), 250, step: "RSET")
    }

    /// QUIT, politely but without waiting long, then closes.
    func close() async {
        if channel.isActive {
            let timeout = min(TimeAmount(settings.commandTimeout), .seconds(2))
            _ = try? await Self.exchange("QUIT", on: channel, timeout: timeout, step: "QUIT")
        }
        try? await channel.close()
    }

    /// Closes at once: after a failure, nothing more is said.
    func abandon() {
        channel.close(promise: nil)
    }

    // MARK: Exchanging commands and replies

    private func command(_ line: String, step: String) async throws -> SMTPReply {
        try await Self.exchange(line, on: channel, timeout: TimeAmount(settings.commandTimeout), step: step)
    }

    private static func exchange(_ line: String?, on channel: any Channel, timeout: TimeAmount, step: String) async throws -> SMTPReply {
        let bytes = line.map { ByteBuffer(string: $0 + "\r\n") }
        return try await exchange(SMTPCommand(bytes: bytes, timeout: timeout, reply: channel.eventLoop.makePromise()), on: channel, step: step)
    }

    /// Writes the command and waits for its reply; a cancelled task closes the connection,
    /// which fails the wait at once.
    private static func exchange(_ command: SMTPCommand, on channel: any Channel, step: String) async throws -> SMTPReply {
        // A channel closed before the write gets to the handler would leave the reply
        // waiting forever: fail it with the write (a reply already given stays).
        channel.writeAndFlush(command).whenFailure { command.reply.fail($0) }
        do {
            return try await withTaskCancellationHandler {
                try await command.reply.futureResult.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch SMTPChannelError.timedOut {
            throw DeliveryFailure.transient("\(step): no reply within \(timeout: command.timeout)")
        } catch SMTPChannelError.closed, ChannelError.ioOnClosedChannel, ChannelError.alreadyClosed {
            throw DeliveryFailure.transient("\(step): the server closed the connection")
        } catch {
            throw DeliveryFailure.transient("\(step): \(error)")
        }
    }

    private static func expect(_ reply: SMTPReply, _ code: Int, step: String) throws {
        try expect(reply, [code], step: step)
    }

    /// 4xx is "not now" (transient); 5xx is "never" (permanent); any other code out of
    /// step with the protocol is treated as a hiccup worth another try.
    private static func expect(_ reply: SMTPReply, _ codes: Set<Int>, step: String) throws {
        guard !codes.contains(reply.code) else { return }
        if reply.code >= 500 { throw DeliveryFailure.permanent("\(step): \(reply)") }
        throw DeliveryFailure.transient("\(step): \(reply)")
    }

    /// The message with every line that starts with "." given another one (RFC 5321
    /// 4.5.2), then the terminating ".".
    static func dotStuffed(_ message: String) -> ByteBuffer {
        var output = ByteBuffer()
        output.reserveCapacity(message.utf8.count + 64)
        var atLineStart = true
        for byte in message.utf8 {
            if atLineStart && byte == UInt8(ascii: ".") { output.writeInteger(UInt8(ascii: ".")) }
            output.writeInteger(byte)
            atLineStart = byte == 0x0A
        }
        if !atLineStart { output.writeString("\r\n") }
        output.writeString(".\r\n")
        return output
    }
}

extension DefaultStringInterpolation {
    fileprivate mutating func appendInterpolation(timeout: TimeAmount) {
        let milliseconds = timeout.nanoseconds / 1_000_000
        appendLiteral(milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms")
    }
}
