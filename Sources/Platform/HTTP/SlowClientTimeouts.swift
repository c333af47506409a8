public import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client is too slow to send a request: the head must arrive
/// within `head` of the connection opening (or of the previous response), and the body
/// within `body` of the head. A client that sends a byte a minute holds nothing for long.
/// A kept-alive connection waiting for its next request is closed after `head` as well.
///
/// Sits after HTTP decoding, so it sees whole heads; the byte-level idle timer of the
/// server cannot catch a client that keeps sending a little.
public final class SlowClientTimeouts: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    private let head: TimeAmount
    private let body: TimeAmount
    private var deadline: Scheduled<Void>?
    /// Whether the connection waits for a request head (the head timer runs), rather
    /// than for the rest of a request.
    private var awaitingHead = true

    public init(head: TimeAmount, body: TimeAmount) {
        self.head = head
        self.body = body
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(head, context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        arm(head, context: context)
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            awaitingHead = false
            arm(body, context: context)
        case .end:
            // The end of a body that came after its response (a route that answered
            // early) leaves the head timer of the next request running.
            if !awaitingHead { disarm() }
        case .body: break
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The response is complete: the connection now waits for the next request's head.
        if case .end = unwrapOutboundIn(data) {
            awaitingHead = true
            arm(head, context: context)
        }
        context.write(data, promise: promise)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    private func arm(_ timeout: TimeAmount, context: ChannelHandlerContext) {
        disarm()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }
}

/// How long a client may take and how many connections may be open at once
/// (`REQUEST_HEAD_TIMEOUT_SECONDS`, `REQUEST_BODY_TIMEOUT_SECONDS`, `IDLE_TIMEOUT_SECONDS`,
/// `MAX_CONNECTIONS`).
public struct ConnectionLimits: Sendable {
    /// From the connection opening, or the previous response, to a complete request head.
    public var headTimeout = Duration.seconds(30)
    /// From the head to the end of the request body.
    public var bodyTimeout = Duration.seconds(120)
    /// A connection with no traffic either way is closed after this.
    public var idleTimeout = Duration.seconds(75)
    /// Connections beyond this wait in the listen backlog until one closes.
    public var maxConnections = 4096

    public init() {}
}
