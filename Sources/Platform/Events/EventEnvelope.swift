public import Foundation

/// A fact one service tells the others, as a CloudEvents 1.0 event in JSON structured
/// mode (`API.md`), carrying the request id of the change that caused it.
public struct EventEnvelope: Sendable, Hashable {
    /// Unique per event; consumers use it to apply an event once.
    public let id: String
    /// `<entity>.<past-tense verb>`, e.g. `user.registered`.
    public let type: String
    /// The publishing service, e.g. `/users`.
    public let source: String
    public let time: Date
    /// The event's data: a JSON object.
    public let data: Data
    /// The `X-Request-ID` of the request that caused it (extension attribute `requestid`).
    public let requestID: String?
    /// The user whose request caused it, when one was signed in (extension attribute
    /// `actorid`): an admin changing someone else's account names the admin here.
    public let actorID: Int64?

    public init(
        id: String = UUID().uuidString.lowercased(),
        type: String,
        source: String,
        time: Date,
        data: Data,
        requestID: String?,
        actorID: Int64? = nil
    ) {
        self.id = id
        self.type = type
        self.source = source
        self.time = time
        self.data = data
        self.requestID = requestID
        self.actorID = actorID
    }

    /// The envelope of a typed event.
    public init<Event: DomainEvent>(_ event: Event, source: String, time: Date, requestID: String?, actorID: Int64? = nil) throws {
        self.init(
            type: Event.type,
            source: source,
            time: time,
            data: try Self.encoder.encode(event),
            requestID: requestID,
            actorID: actorID
        )
    }

    /// The typed event inside, or an error when the type or data does not fit.
    public func decode<Event: DomainEvent>(_ type: Event.Type) throws -> Event {
        guard self.type == Event.type else { throw EventDecodingError.wrongType(expected: Event.type, got: self.type) }
        return try JSONDecoder().decode(Event.self, from: data)
    }

    /// The CloudEvents JSON of this event.
    public func encoded() throws -> Data {
        var object: [String: Any] = [
            "specversion": "1.0", "id": id, "type": type, "source": source,
            "time": Self.timeFormatter().string(from: time), "datacontenttype": "application/json",
            "data": try JSONSerialization.jsonObject(with: data),
        ]
        if let requestID { object["requestid"] = requestID }
        if let actorID { object["actorid"] = actorID }
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// Reads CloudEvents JSON written by ``encoded()``.
    public init(decoding json: Data) throws {
        guard let object = try JSONSerialization.jsonObject(with: json) as? [String: Any],
            object["specversion"] as? String == "1.0",
            let id = object["id"] as? String, let type = object["type"] as? String,
            let source = object["source"] as? String, let timeText = object["time"] as? String,
            let time = Self.timeFormatter().date(from: timeText), let data = object["data"]
        else { throw EventDecodingError.notACloudEvent }
        self.init(
            id: id,
            type: type,
            source: source,
            time: time,
            data: try JSONSerialization.data(withJSONObject: data, options: [.sortedKeys, .withoutEscapingSlashes]),
            requestID: object["requestid"] as? String,
            actorID: (object["actorid"] as? NSNumber)?.int64Value
        )
    }

    /// RFC 3339 in UTC with milliseconds, so delivery lag can be measured from `time`.
    private static func timeFormatter() -> ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

/// Why bytes could not be read as an event, or an event as the type asked for.
public enum EventDecodingError: Error, Hashable {
    case notACloudEvent
    case wrongType(expected: String, got: String)
}
