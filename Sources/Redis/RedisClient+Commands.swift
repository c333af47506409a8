extension RedisClient {
    /// `GET key`: the value, or `nil` when the key does not exist.
    public func get(_ key: String) async throws -> String? {
        try await send("GET", RESPArgument(key)).string
    }

    /// `SET key value [PX ms] [NX]`; returns whether the value was set (always, unless
    /// `onlyIfAbsent` and the key exists).
    @discardableResult
    public func set(_ key: String, to value: String, expiresIn: Duration? = nil, onlyIfAbsent: Bool = false) async throws -> Bool {
        var command: [RESPArgument] = ["SET", RESPArgument(key), RESPArgument(value)]
        if let expiresIn { command += ["PX", RESPArgument(Self.milliseconds(expiresIn))] }
        if onlyIfAbsent { command.append("NX") }
        return try await send(command).isNull == false
    }

    /// `DEL keys...`: how many existed.
    @discardableResult
    public func delete(_ keys: String...) async throws -> Int {
        try await integer(send(["DEL"] + keys.map { RESPArgument($0) }))
    }

    /// `INCRBY key amount`: the new value.
    @discardableResult
    public func increment(_ key: String, by amount: Int = 1) async throws -> Int {
        try await integer(send("INCRBY", RESPArgument(key), RESPArgument(amount)))
    }

    /// `PEXPIRE key ms`: whether the key exists.
    @discardableResult
    public func expire(_ key: String, in duration: Duration) async throws -> Bool {
        try await integer(send("PEXPIRE", RESPArgument(key), RESPArgument(Self.milliseconds(duration)))) == 1
    }

    /// `HSET key field value ...`: how many fields were added.
    @discardableResult
    public func hashSet(_ key: String, _ fields: [(String, String)]) async throws -> Int {
        try await integer(send(["HSET", RESPArgument(key)] + fields.flatMap { [RESPArgument($0.0), RESPArgument($0.1)] }))
    }

    /// `HGETALL key`.
    public func hashGetAll(_ key: String) async throws -> [String: String] {
        let elements = try await send("HGETALL", RESPArgument(key)).array ?? []
        var result: [String: String] = [:]
        var index = 0
        while index + 1 < elements.count {
            if let field = elements[index].string, let value = elements[index + 1].string { result[field] = value }
            index += 2
        }
        return result
    }

    /// `ZADD key score member`: whether the member is new.
    @discardableResult
    public func sortedSetAdd(_ key: String, member: String, score: Double) async throws -> Bool {
        try await integer(send("ZADD", RESPArgument(key), RESPArgument(String(score)), RESPArgument(member))) == 1
    }

    /// `ZRANGEBYSCORE key min max`: members in score order.
    public func sortedSetRange(_ key: String, minScore: Double, maxScore: Double) async throws -> [String] {
        try await send("ZRANGEBYSCORE", RESPArgument(key), RESPArgument(String(minScore)), RESPArgument(String(maxScore)))
            .array?.compactMap(\.string) ?? []
    }

    /// `XADD stream [MAXLEN ~ n] * field value ...`: the new entry's id.
    public func streamAdd(_ stream: String, fields: [(String, String)], maxLength: Int? = nil) async throws -> String {
        var command: [RESPArgument] = ["XADD", RESPArgument(stream)]
        if let maxLength { command += ["MAXLEN", "~", RESPArgument(maxLength)] }
        command.append("*")
        command += fields.flatMap { [RESPArgument($0.0), RESPArgument($0.1)] }
        guard let id = try await send(command).string else { throw RedisError.unexpectedReply("XADD without an id") }
        return id
    }

    /// Runs `script` by its SHA-1 (`EVALSHA`), loading it first when the server does not
    /// know it (a restart or `SCRIPT FLUSH` forgets scripts).
    public func evaluate(_ script: RedisScript, keys: [String] = [], arguments: [RESPArgument] = []) async throws -> RESPValue {
        let tail = [RESPArgument(keys.count)] + keys.map { RESPArgument($0) } + arguments
        do {
            return try await send(["EVALSHA", RESPArgument(script.sha1)] + tail)
        } catch RedisError.server(let message) where message.hasPrefix("NOSCRIPT") {
            try await send("SCRIPT", "LOAD", RESPArgument(script.source))
            return try await send(["EVALSHA", RESPArgument(script.sha1)] + tail)
        }
    }

    private func integer(_ value: RESPValue) throws -> Int {
        guard case .integer(let number) = value else { throw RedisError.unexpectedReply("\(value)") }
        return number
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
