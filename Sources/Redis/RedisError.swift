/// What can go wrong talking to Redis.
public enum RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server answered with an error reply (`ERR ...`, `NOSCRIPT ...`, `WRONGTYPE ...`).
    case server(String)
    /// No reply within the command timeout; the connection is dropped and reopened.
    case timeout
    /// The connection could not be opened or was lost before the reply.
    case connectionFailed(String)
    /// The server sent something that is not RESP.
    case protocolError(String)
    /// The client was shut down.
    case shutDown
    /// A reply of an unexpected type for the command.
    case unexpectedReply(String)

    public var description: String {
        switch self {
        case .server(let message): "redis: \(message)"
        case .timeout: "redis: timed out"
        case .connectionFailed(let reason): "redis: connection failed: \(reason)"
        case .protocolError(let reason): "redis: protocol error: \(reason)"
        case .shutDown: "redis: client shut down"
        case .unexpectedReply(let reply): "redis: unexpected reply \(reply)"
        }
    }
}
