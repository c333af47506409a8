public import Redis

/// A count of one database's write transactions that every instance of a service moves and
/// reads (in Redis): what one instance keeps from the database stays valid only while no
/// instance has written since. See ``WriteCountingDatabase``.
public protocol SharedWriteCount: Sendable {
    /// The count now, read after this call began (never an answer older than the call).
    func current() async throws -> UInt64
    /// Counts one write transaction that ended.
    func increment() async throws
    /// Moves the count on unless it was moved already for `changes` (the database's own
    /// count of changes, ``ChangeCount``, read after they committed) or a later one: a
    /// write whose own ``increment()`` never happened is counted all the same.
    func catchUp(toChanges changes: Int64) async throws
}

/// The count in one Redis key. A request whose session check read the key along
/// (``ReadAlong``) uses that value; other reads that ask at the same time share one `GET`
/// (``ReadRounds``), each sent after its reads arrived.
public struct RedisSharedWriteCount: SharedWriteCount {
    let redis: RedisClient
    let key: String
    private let rounds: ReadRounds<Int, UInt64>

    public init(redis: RedisClient, key: String) {
        self.redis = redis
        self.key = key
        self.rounds = ReadRounds { _ in
            let reply = try await redis.send([RESPArgument("GET"), RESPArgument(key)])
            if reply.isNull { return 0 }
            return try Self.count(reply.string)
        }
    }

    public func current() async throws -> UInt64 {
        if let along = ReadAlong.current?.values[key] { return try Self.count(along) }
        return try await rounds.read([0])
    }

    private static func count(_ text: String?) throws -> UInt64 {
        guard let text else { return 0 }
        guard let count = UInt64(text) else { throw SharedWriteCountError.unexpectedReply }
        return count
    }

    /// Past the time in milliseconds when Redis has lost the count (see ``ChangeCount``).
    public func increment() async throws {
        try await ChangeCount.increment(value: key, seen: "\(key):changes", in: redis)
    }

    /// The changes caught up with are kept under `<key>:changes`.
    public func catchUp(toChanges changes: Int64) async throws {
        try await ChangeCount.catchUp(changes, value: key, seen: "\(key):changes", in: redis)
    }
}

enum SharedWriteCountError: Error {
    case unexpectedReply
}
