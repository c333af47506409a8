public import Hummingbird
public import NIOCore

/// The request context every route of every service sees.
///
/// It carries the request id (set by ``RequestIDMiddleware`` before any handler runs) and
/// the peer address, so logs, downstream calls and rate limits can use them.
public struct ShopRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The id of this request, as sent back in `X-Request-ID`.
    public var requestID: String
    /// The address of the peer that opened the connection.
    public let remoteAddress: SocketAddress?
    /// The caller proven by a bearer token, set by the gateway's guard; `nil` when anonymous.
    public var principal: Principal?
    /// The client's address: the peer, or what a trusted proxy says it forwarded for.
    public var clientAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = RequestIdentifier.make()
        self.remoteAddress = source.channel.remoteAddress
        self.principal = nil
        self.clientAddress = source.channel.remoteAddress?.ipAddress
    }

    /// Hummingbird's own body collection limit; our JSON bodies use ``JSONBody/maxBytes``.
    public var maxUploadSize: Int { JSONBody.maxBytes }
}
