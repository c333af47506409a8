import NIOCore

/// What ``SMTPConnection`` writes into the channel: the bytes of one command (none to wait
/// for the greeting), and where the reply to it goes.
struct SMTPCommand: Sendable {
    var bytes: ByteBuffer?
    var timeout: TimeAmount
    var reply: EventLoopPromise<SMTPReply>
    /// STARTTLS: the server must send nothing after its reply until the TLS handshake, or
    /// someone on the path is injecting plain-text replies (CVE-2011-0411 and its kin).
    var mustBeLastBeforeTLS = false
}

/// Why a command got no reply.
enum SMTPChannelError: Error, Sendable, CustomStringConvertible {
    case timedOut
    case closed
    case malformedReply(String)
    case unexpectedBytesBeforeTLS

    var description: String {
        switch self {
        case .timedOut: "no reply in time"
        case .closed: "the connection is closed"
        case .malformedReply(let what): "the server does not speak SMTP as expected: \(what)"
        case .unexpectedBytesBeforeTLS: "the server sent more after its STARTTLS reply (a man in the middle?)"
        }
    }
}

/// Turns the server's bytes into ``SMTPReply`` values and gives each to the command waiting
/// for it, one command at a time; fails that command when no reply comes in time, and
/// closes the channel then, as after any failure, so a connection in doubt is never reused.
///
/// A reply that comes before anyone waits for it is kept for a command that only waits
/// (the greeting); a command that writes finds it and fails, since its reply would be
/// ambiguous.
final class SMTPReplyHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = SMTPCommand
    typealias OutboundOut = ByteBuffer

    /// Longer lines than this are not SMTP (RFC 5321 allows 512); the cap bounds memory.
    private static let maximumLineLength = 4096

    private var received: ByteBuffer?
    private var lines: [String] = []
    private var waiting: (command: SMTPCommand, timer: Scheduled<Void>)?
    /// Replies that came while no command waited: the greeting, when it is faster than
    /// the task that waits for it, or a server's 421 before it closes an idle connection.
    private var unclaimed: [SMTPReply] = []
    /// Once set, the connection is finished: every later command fails with it.
    private var failure: SMTPChannelError?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = unwrapOutboundIn(data)
        if let failure {
            command.reply.fail(failure)
            promise?.fail(failure)
            return
        }
        if let reply = unclaimed.first {
            guard command.bytes == nil else {
                // The server spoke out of turn: the reply to this command would be ambiguous.
                fail(.malformedReply("a reply no command asked for: \(reply)"), context: context)
                command.reply.fail(SMTPChannelError.malformedReply("a reply no command asked for: \(reply)"))
                promise?.succeed()
                return
            }
            unclaimed.removeFirst()
            command.reply.succeed(reply)
            promise?.succeed()
            return
        }
        guard waiting == nil else {
            // SMTPConnection never pipelines: a second command would get the first's reply.
            command.reply.fail(SMTPChannelError.malformedReply("a command was sent before the previous reply"))
            promise?.succeed()
            return
        }
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: command.timeout) { [self] in
            fail(.timedOut, context: context)
        }
        waiting = (command, timer)
        if let bytes = command.bytes {
            context.writeAndFlush(wrapOutboundOut(bytes), promise: promise)
        } else {
            promise?.succeed()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if received == nil {
            received = bytes
        } else {
            received!.writeBuffer(&bytes)
        }
        while failure == nil, let line = nextLine() {
            guard let (code, isLast, text) = SMTPReply.parseLine(line) else {
                fail(.malformedReply(String(line.prefix(100))), context: context)
                return
            }
            lines.append(text)
            if isLast { deliver(SMTPReply(code: code, lines: lines), context: context) }
        }
        if failure == nil, let received, received.readableBytes > Self.maximumLineLength {
            fail(.malformedReply("a reply line longer than \(Self.maximumLineLength) bytes"), context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.closed, context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // TLS and socket errors: the command learns that the connection is gone; the
        // error itself is what the caller reports.
        if let waiting {
            self.waiting = nil
            waiting.timer.cancel()
            waiting.command.reply.fail(error)
        }
        fail(.closed, context: context)
    }

    private func nextLine() -> String? {
        guard var buffer = received, let end = buffer.readableBytesView.firstRange(of: [0x0D, 0x0A]) else { return nil }
        let length = end.lowerBound - buffer.readerIndex
        let line = buffer.readString(length: length) ?? ""
        buffer.moveReaderIndex(forwardBy: 2)
        received = buffer.readableBytes == 0 ? nil : buffer
        return line
    }

    private func deliver(_ reply: SMTPReply, context: ChannelHandlerContext) {
        lines = []
        guard let waiting else {
            unclaimed.append(reply)
            if unclaimed.count > 4 { fail(.malformedReply("replies no command asked for"), context: context) }
            return
        }
        self.waiting = nil
        waiting.timer.cancel()
        if waiting.command.mustBeLastBeforeTLS, received != nil {
            waiting.command.reply.fail(SMTPChannelError.unexpectedBytesBeforeTLS)
            fail(.unexpectedBytesBeforeTLS, context: context)
            return
        }
        waiting.command.reply.succeed(reply)
    }

    private func fail(_ error: SMTPChannelError, context: ChannelHandlerContext) {
        if let waiting {
            self.waiting = nil
            waiting.timer.cancel()
            waiting.command.reply.fail(error)
        }
        guard failure == nil else { return }
        failure = error
        context.close(promise: nil)
    }
}
