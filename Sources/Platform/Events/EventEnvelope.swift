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
    /// The span that wrote it, as W3C Trace Context (CloudEvents' distributed tracing
    /// extension attribute `traceparent`): a consumer's span continues that trace.
    public let traceparent: String?

    public init(
        id: String? = nil,
        type: String,
        source: String,
        time: Date,
        data: Data,
        requestID: String?,
        actorID: Int64? = nil,
        traceparent: String? = nil
    ) {
        // Time-ordered, so the outbox and every consumer's record of it add at the end of an index.
        self.id = id ?? UUID.timeOrdered(at: time).uuidString.lowercased()
        self.type = type
        self.source = source
        self.time = time
        self.data = data
        self.requestID = requestID
        self.actorID = actorID
        self.traceparent = traceparent
    }

    /// The envelope of a typed event.
    public init<Event: DomainEvent>(
        _ event: Event,
        source: String,
        time: Date,
        requestID: String?,
        actorID: Int64? = nil,
        traceparent: String? = nil
    ) throws {
        self.init(
            type: Event.type,
            source: source,
            time: time,
            // Keys sorted, slashes plain, as Foundation's encoder with those options writes
            // them; a date in an event would be an RFC 3339 string (none carries one).
            data: Data(try ResponseJSONEncoder.encode(event)),
            requestID: requestID,
            actorID: actorID,
            traceparent: traceparent
        )
    }

    /// The typed event inside, or an error when the type or data does not fit.
    public func decode<Event: DomainEvent>(_ type: Event.Type) throws -> Event {
        guard self.type == Event.type else { throw EventDecodingError.wrongType(expected: Event.type, got: self.type) }
        return try JSONTapeDecoder.decode(Event.self, from: data)
    }

    /// The CloudEvents JSON of this event, members in key order, `data` as its bytes are.
    /// Written by hand: the relay and every bus write one for each event, and building
    /// it through `JSONSerialization` was a tenth of a checkout's CPU.
    public func encoded() throws -> Data {
        guard data.first == UInt8(ascii: "{") else { throw EventDecodingError.notACloudEvent }
        var json: [UInt8] = []
        json.reserveCapacity(data.count + 256)
        func member(_ key: String, _ value: String) {
            json.append(contentsOf: "\"\(key)\":".utf8)
            JSONNode.appendString(value, to: &json)
            json.append(UInt8(ascii: ","))
        }
        if let actorID { json.append(contentsOf: "{\"actorid\":\(actorID),".utf8) } else { json.append(UInt8(ascii: "{")) }
        json.append(contentsOf: #""data":"#.utf8)
        json.append(contentsOf: data)
        json.append(UInt8(ascii: ","))
        member("datacontenttype", "application/json")
        member("id", id)
        if let requestID { member("requestid", requestID) }
        member("source", source)
        member("specversion", "1.0")
        member("time", RFC3339.string(from: time, milliseconds: true))
        if let traceparent { member("traceparent", traceparent) }
        json.append(contentsOf: #""type":"#.utf8)
        JSONNode.appendString(type, to: &json)
        json.append(UInt8(ascii: "}"))
        return Data(json)
    }

    /// Reads CloudEvents JSON written by ``encoded()``: `data` must be an object, and is
    /// kept as the bytes it arrived as. Of a member given twice, the last counts.
    public init(decoding json: Data) throws {
        // Strict: `data` goes on as it is, to webhooks among others.
        guard let tape = try? JSONTape(parsing: [UInt8](json), trailingCommas: false), tape.nodes.first?.kind == .object else {
            throw EventDecodingError.notACloudEvent
        }
        var values: [String: Int] = [:]
        tape.forEachMember(of: 0) { name in values[tape.string(at: name)] = name + 1 }
        func text(_ key: String) -> String? {
            guard let node = values[key], [.string, .escapedString].contains(tape.nodes[node].kind) else { return nil }
            return tape.string(at: node)
        }
        guard text("specversion") == "1.0", let id = text("id"), let type = text("type"),
            let source = text("source"), let time = text("time").flatMap(RFC3339.date(from:)),
            let data = values["data"].map({ tape.nodes[$0] }), data.kind == .object
        else { throw EventDecodingError.notACloudEvent }
        self.init(
            id: id,
            type: type,
            source: source,
            time: time,
            data: Data(tape.bytes[data.start..<data.end]),
            requestID: text("requestid"),
            actorID: values["actorid"].flatMap { tape.nodes[$0].kind == .integer ? Int64(tape.numberText(at: $0)) : nil },
            traceparent: text("traceparent")
        )
    }
}

/// Why bytes could not be read as an event, or an event as the type asked for.
public enum EventDecodingError: Error, Hashable {
    case notACloudEvent
    case wrongType(expected: String, got: String)
}
