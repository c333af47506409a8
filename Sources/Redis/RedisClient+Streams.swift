/// One entry of a stream: its id and its field-value pairs.
public struct StreamEntry: Sendable, Hashable {
    public let id: String
    public let fields: [String: String]

    public init(id: String, fields: [String: String]) {
        self.id = id
        self.fields = fields
    }
}

extension RedisClient {
    /// `XGROUP CREATE stream group start MKSTREAM`; `false` when the group exists already.
    @discardableResult
    public func streamCreateGroup(_ stream: String, group: String, startingAt start: String = "0") async throws -> Bool {
        do {
            try await send("XGROUP", "CREATE", RESPArgument(stream), RESPArgument(group), RESPArgument(start), "MKSTREAM")
            return true
        } catch RedisError.server(let message) where message.hasPrefix("BUSYGROUP") {
            return false
        }
    }

    /// `XREADGROUP GROUP group consumer COUNT n BLOCK ms STREAMS s... >...`: entries never
    /// delivered to the group before, by stream. Waits up to `block` for the first one:
    /// give a blocking read a client of its own, whose command timeout is longer.
    public func streamReadGroup(
        group: String,
        consumer: String,
        streams: [String],
        count: Int,
        block: Duration
    ) async throws -> [(stream: String, entries: [StreamEntry])] {
        var command: [RESPArgument] = [
            "XREADGROUP", "GROUP", RESPArgument(group), RESPArgument(consumer),
            "COUNT", RESPArgument(count), "BLOCK", RESPArgument(Self.milliseconds(block)), "STREAMS",
        ]
        command += streams.map { RESPArgument($0) }
        command += streams.map { _ in ">" }
        let reply = try await send(command)
        guard !reply.isNull else { return [] }
        guard let streamsReply = reply.array else { throw RedisError.unexpectedReply("XREADGROUP \(reply)") }
        return try streamsReply.map { item in
            guard let pair = item.array, pair.count == 2, let name = pair[0].string, let entries = pair[1].array else {
                throw RedisError.unexpectedReply("XREADGROUP \(item)")
            }
            return (name, try entries.compactMap(Self.entry))
        }
    }

    /// `XACK stream group id...`: how many were acknowledged.
    @discardableResult
    public func streamAcknowledge(_ stream: String, group: String, ids: [String]) async throws -> Int {
        try await send(["XACK", RESPArgument(stream), RESPArgument(group)] + ids.map { RESPArgument($0) }).int ?? 0
    }

    /// `XAUTOCLAIM stream group consumer min-idle start COUNT n`: entries that another
    /// consumer took and has not acknowledged for `minIdle`, now `consumer`'s; and the id
    /// to continue from (`0-0` when the scan is complete).
    public func streamAutoClaim(
        _ stream: String,
        group: String,
        consumer: String,
        minIdle: Duration,
        start: String = "0-0",
        count: Int
    ) async throws -> (next: String, entries: [StreamEntry]) {
        let reply = try await send(
            "XAUTOCLAIM",
            RESPArgument(stream),
            RESPArgument(group),
            RESPArgument(consumer),
            RESPArgument(Self.milliseconds(minIdle)),
            RESPArgument(start),
            "COUNT",
            RESPArgument(count)
        )
        guard let parts = reply.array, parts.count >= 2, let next = parts[0].string, let entries = parts[1].array else {
            throw RedisError.unexpectedReply("XAUTOCLAIM \(reply)")
        }
        // Entries deleted meanwhile come back as nulls; they are skipped.
        return (next, try entries.compactMap(Self.entry))
    }

    /// `XRANGE stream start end COUNT n`.
    public func streamRange(_ stream: String, from start: String = "-", to end: String = "+", count: Int) async throws -> [StreamEntry] {
        let reply = try await send("XRANGE", RESPArgument(stream), RESPArgument(start), RESPArgument(end), "COUNT", RESPArgument(count))
        guard let entries = reply.array else { throw RedisError.unexpectedReply("XRANGE \(reply)") }
        return try entries.compactMap(Self.entry)
    }

    /// `XLEN stream`.
    public func streamLength(_ stream: String) async throws -> Int {
        try await send("XLEN", RESPArgument(stream)).int ?? 0
    }

    /// `XPENDING stream group`: how many entries were delivered and not acknowledged.
    public func streamPendingCount(_ stream: String, group: String) async throws -> Int {
        try await send("XPENDING", RESPArgument(stream), RESPArgument(group)).array?.first?.int ?? 0
    }

    /// `XDEL stream id...`.
    @discardableResult
    public func streamDelete(_ stream: String, ids: [String]) async throws -> Int {
        try await send(["XDEL", RESPArgument(stream)] + ids.map { RESPArgument($0) }).int ?? 0
    }

    private static func entry(_ value: RESPValue) throws -> StreamEntry? {
        guard !value.isNull else { return nil }
        guard let pair = value.array, pair.count == 2, let id = pair[0].string else {
            throw RedisError.unexpectedReply("stream entry \(value)")
        }
        guard let flat = pair[1].array else { return nil }
        var fields: [String: String] = [:]
        var index = 0
        while index + 1 < flat.count {
            if let name = flat[index].string, let value = flat[index + 1].string { fields[name] = value }
            index += 2
        }
        return StreamEntry(id: id, fields: fields)
    }
}
