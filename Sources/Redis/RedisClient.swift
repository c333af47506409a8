public import Logging
public import NIOCore
import NIOPosix
import Synchronization

/// A pooled Redis client: a few pipelined connections, opened on first use and reopened
/// after a failure, every command bounded by a timeout so no caller ever hangs.
///
/// General on purpose (strings, integers, scripts, hashes, sorted sets, streams through
/// ``send(_:)``): rate limits, sessions, caches, inventory and events all build on it.
public final class RedisClient: Sendable {
    public struct Configuration: Sendable {
        public var url: RedisURL
        /// Connections kept; commands are spread across them round-robin.
        public var connections: Int
        public var connectTimeout: Duration
        public var commandTimeout: Duration
        /// After a failed connect, commands fail at once for this long instead of each
        /// waiting for its own connect attempt.
        public var reconnectBackoff: Duration

        public init(
            url: RedisURL,
            connections: Int = 4,
            connectTimeout: Duration = .seconds(1),
            commandTimeout: Duration = .seconds(1),
            reconnectBackoff: Duration = .milliseconds(250)
        ) {
            self.url = url
            self.connections = max(1, connections)
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
            self.reconnectBackoff = reconnectBackoff
        }
    }

    private enum SlotState {
        case idle
        case connecting([CheckedContinuation<RedisConnection, any Error>])
        case connected(RedisConnection)
        case failed(until: ContinuousClock.Instant, error: RedisError)
    }

    /// One connection's place in the pool.
    private final class Slot: Sendable {
        let state = Mutex(SlotState.idle)
    }

    public let configuration: Configuration
    private let slots: [Slot]
    private let nextSlot = Atomic<Int>(0)
    private let isShutDown = Atomic<Bool>(false)
    private let group: any EventLoopGroup
    private let logger: Logger

    public init(_ configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.configuration = configuration
        self.slots = (0..<configuration.connections).map { _ in Slot() }
        self.group = group
        self.logger = logger
    }

    /// Sends one command; an error reply is thrown as ``RedisError/server(_:)``.
    @discardableResult
    public func send(_ command: [RESPArgument]) async throws -> RESPValue {
        try await pipeline([command]).checked()[0]
    }

    /// Sends one command.
    @discardableResult
    public func send(_ command: RESPArgument...) async throws -> RESPValue {
        try await send(command)
    }

    /// Sends `commands` in one round trip; replies come back in order, error replies as
    /// ``RESPValue/error(_:)`` values.
    public func pipeline(_ commands: [[RESPArgument]]) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        let connection = try await connection()
        do {
            return try await connection.send(commands, timeout: configuration.commandTimeout)
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError.connectionFailed("\(error)")
        }
    }

    /// Closes every connection; later commands throw ``RedisError/shutDown``.
    public func shutdown() {
        isShutDown.store(true, ordering: .sequentiallyConsistent)
        for slot in slots {
            let state = slot.state.withLock { state -> SlotState in
                let old = state
                state = .idle
                return old
            }
            switch state {
            case .connected(let connection): connection.close()
            case .connecting(let waiters): waiters.forEach { $0.resume(throwing: RedisError.shutDown) }
            default: break
            }
        }
    }

    private enum Decision {
        case use(RedisConnection)
        case fail(RedisError)
        case wait
        case connect
    }

    private func connection() async throws -> RedisConnection {
        guard !isShutDown.load(ordering: .relaxed) else { throw RedisError.shutDown }
        let slot = slots[nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue % slots.count]
        let now = ContinuousClock.now
        let decision = slot.state.withLock { state -> Decision in
            switch state {
            case .connected(let connection) where connection.isActive:
                return .use(connection)
            case .failed(let until, let error) where now < until:
                return .fail(error)
            case .connecting:
                return .wait
            default:
                state = .connecting([])
                return .connect
            }
        }
        switch decision {
        case .use(let connection):
            return connection
        case .fail(let error):
            throw error
        case .connect:
            return try await open(slot)
        case .wait:
            return try await withCheckedThrowingContinuation { continuation in
                let outcome = slot.state.withLock { state -> Result<RedisConnection, RedisError>? in
                    switch state {
                    case .connecting(var waiters):
                        waiters.append(continuation)
                        state = .connecting(waiters)
                        return nil
                    case .connected(let connection):
                        return .success(connection)
                    case .failed(_, let error):
                        return .failure(error)
                    case .idle:
                        return .failure(isShutDown.load(ordering: .relaxed) ? .shutDown : .connectionFailed("connection reset"))
                    }
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        }
    }

    /// Connects the slot this task claimed and hands the connection to everyone waiting.
    private func open(_ slot: Slot) async throws -> RedisConnection {
        let configuration = self.configuration
        do {
            let connection = try await RedisConnection.connect(
                to: configuration.url,
                group: group,
                connectTimeout: configuration.connectTimeout,
                commandTimeout: configuration.commandTimeout
            )
            let waiters = slot.state.withLock { state -> [CheckedContinuation<RedisConnection, any Error>]? in
                guard case .connecting(let waiters) = state else { return nil }
                state = .connected(connection)
                return waiters
            }
            guard let waiters else {
                connection.close()
                throw RedisError.shutDown
            }
            waiters.forEach { $0.resume(returning: connection) }
            return connection
        } catch {
            let failure = error as? RedisError ?? .connectionFailed("\(error)")
            let until = ContinuousClock.now + configuration.reconnectBackoff
            let waiters = slot.state.withLock { state -> [CheckedContinuation<RedisConnection, any Error>] in
                guard case .connecting(let waiters) = state else { return [] }
                state = .failed(until: until, error: failure)
                return waiters
            }
            waiters.forEach { $0.resume(throwing: failure) }
            logger.warning("redis connection failed", metadata: ["error": "\(failure)"])
            throw failure
        }
    }
}
