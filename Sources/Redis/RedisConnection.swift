import NIOCore
import NIOPosix

/// One connection to Redis: commands are written as they come and replies matched in
/// order, so many callers can pipeline on it at once.
final class RedisConnection: Sendable {
    let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    var isActive: Bool { channel.isActive }

    static func connect(
        to url: RedisURL,
        group: any EventLoopGroup,
        connectTimeout: Duration,
        commandTimeout: Duration
    ) async throws -> RedisConnection {
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(
                    .nanoseconds(Int64(connectTimeout.components.seconds * 1_000_000_000 + connectTimeout.components.attoseconds / 1_000_000_000))
                )
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder()))
                        try channel.pipeline.syncOperations.addHandler(RedisCommandHandler())
                    }
                }
                .connect(host: url.host, port: url.port)
                .get()
        } catch {
            throw RedisError.connectionFailed("\(url.host):\(url.port): \(error)")
        }
        let connection = RedisConnection(channel: channel)
        do {
            if let password = url.password {
                let auth: [RESPArgument] =
                    url.username.map { ["AUTH", RESPArgument($0), RESPArgument(password)] } ?? ["AUTH", RESPArgument(password)]
                try await connection.send([auth], timeout: commandTimeout).checked()
            }
            if url.database != 0 {
                try await connection.send([["SELECT", RESPArgument(url.database)]], timeout: commandTimeout).checked()
            }
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// Sends `commands` in one write and returns their replies in order (error replies
    /// included as values). A reply that does not come in `timeout` closes the
    /// connection: what arrives after it could no longer be matched.
    func send(_ commands: [[RESPArgument]], timeout: Duration) async throws -> [RESPValue] {
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        let channel = self.channel
        let deadline = channel.eventLoop.scheduleTask(
            in: .nanoseconds(Int64(timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))
        ) {
            promise.fail(RedisError.timeout)
            channel.close(promise: nil)
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        channel.writeAndFlush(RedisCommandHandler.Request(commands: commands, promise: promise), promise: nil)
        return try await promise.futureResult.get()
    }

    func close() {
        channel.close(promise: nil)
    }
}

extension Array where Element == RESPValue {
    /// Throws the first error reply.
    @discardableResult
    func checked() throws -> [RESPValue] {
        for value in self {
            if case .error(let message) = value { throw RedisError.server(message) }
        }
        return self
    }
}

/// Matches replies to the requests that are waiting for them, first in, first out.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    struct Request {
        let commands: [[RESPArgument]]
        let promise: EventLoopPromise<[RESPValue]>
    }

    private struct Waiting {
        let expected: Int
        var replies: [RESPValue]
        let promise: EventLoopPromise<[RESPValue]>
    }

    private var waiting = CircularBuffer<Waiting>()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard context.channel.isActive else {
            request.promise.fail(RedisError.connectionFailed("connection closed"))
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 64 * request.commands.count)
        for command in request.commands {
            RESPEncoder.encode(command, into: &buffer)
        }
        waiting.append(Waiting(expected: request.commands.count, replies: [], promise: request.promise))
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        guard !waiting.isEmpty else {
            context.fireErrorCaught(RedisError.protocolError("reply with no request waiting"))
            context.close(promise: nil)
            return
        }
        waiting[waiting.startIndex].replies.append(value)
        if waiting[waiting.startIndex].replies.count == waiting[waiting.startIndex].expected {
            let done = waiting.removeFirst()
            done.promise.succeed(done.replies)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError.connectionFailed("connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error as? RedisError ?? RedisError.connectionFailed("\(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        while let next = waiting.popFirst() {
            next.promise.fail(error)
        }
    }
}
