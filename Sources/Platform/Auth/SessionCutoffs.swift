import Foundation
public import Redis
import Synchronization

/// When each user's access tokens stopped being good. A token issued before its user's
/// cutoff is refused although its signature and expiry are fine: the user was deleted, or
/// their role or password changed, after it was issued.
///
/// A cutoff only matters while a token issued before it can still be alive, so stores
/// forget it after ``retention``.
public protocol SessionCutoffs: Sendable {
    /// Ends every access token of `userID` issued before `instant`.
    func endSessions(of userID: Int64, at instant: Date) async throws
    /// The cutoff of `userID` in milliseconds since 1970, if one is in force.
    func cutoff(of userID: Int64) async throws -> Int64?
    /// Whether `principal`'s token was issued before its user's cutoff, and what was read
    /// along with the cutoff (see the extension).
    func check(_ principal: Principal) async throws -> (revoked: Bool, readAlong: ReadAlong?)
}

extension SessionCutoffs {
    /// Whether `principal`'s token was issued before its user's cutoff.
    public func isRevoked(_ principal: Principal) async throws -> Bool {
        guard let cutoff = try await cutoff(of: principal.userID) else { return false }
        return Self.isRevoked(principal, cutoff: cutoff)
    }

    /// Whether `principal`'s token was issued before its user's cutoff, and what the store
    /// read along with it for the request (``ReadAlong``); nil where it reads nothing more.
    public func check(_ principal: Principal) async throws -> (revoked: Bool, readAlong: ReadAlong?) {
        (try await isRevoked(principal), nil)
    }

    static func isRevoked(_ principal: Principal, cutoff: Int64?) -> Bool {
        guard let cutoff else { return false }
        return (principal.issuedAt * 1000).rounded(.down) < Double(cutoff)
    }
}

/// Values read from the shared store in the round trip that checked the request's session,
/// sent after the request arrived: as fresh for the request as reading them itself, with
/// no round trip of its own. The guard sets them for the rest of the request.
public struct ReadAlong: Sendable {
    /// Each key read, with its value (nil: no such key).
    public let values: [String: String?]

    public init(values: [String: String?]) {
        self.values = values
    }

    @TaskLocal public static var current: ReadAlong?
}

/// How long a cutoff must be remembered: the longest access-token lifetime
/// (`ACCESS_TOKEN_TTL_SECONDS` allows a day) plus clock skew.
public enum SessionCutoffRetention {
    public static let seconds: Int64 = 86_400 + 60
}

/// Cutoffs in this process's memory: the embedded default, where the guard and the Users
/// service share one process.
public final class InMemorySessionCutoffs: SessionCutoffs {
    private let cutoffs = Mutex<[Int64: Int64]>([:])

    public init() {}

    public func endSessions(of userID: Int64, at instant: Date) async throws {
        let millis = Int64((instant.timeIntervalSince1970 * 1000).rounded(.down))
        let forgetBefore = millis - SessionCutoffRetention.seconds * 1000
        cutoffs.withLock { cutoffs in
            // Bounded by the users whose sessions ended within a day; old ones go first.
            if cutoffs.count >= 100_000 { cutoffs = cutoffs.filter { $0.value >= forgetBefore } }
            cutoffs[userID] = max(cutoffs[userID] ?? 0, millis)
        }
    }

    public func cutoff(of userID: Int64) async throws -> Int64? {
        cutoffs.withLock { $0[userID] }
    }
}

/// Cutoffs in Redis, shared by every process of the shop (`REDIS_URL`): a key per user
/// that expires when no token issued before it can be alive.
///
/// Every request asks (a cutoff must hold on every instance from the moment it is set),
/// but requests asking at the same time share one `MGET` (``ReadRounds``): each round is
/// sent after its requests arrived, so none misses a cutoff set before it.
public struct RedisSessionCutoffs: SessionCutoffs {
    let redis: RedisClient
    /// Keys read in every round beside the cutoffs, for the requests checked in it.
    let readAlong: [String]
    private let rounds: ReadRounds<Int64, Round>

    private struct Round: Sendable {
        var cutoffs: [Int64: Int64] = [:]
        var along: ReadAlong?
    }

    /// - Parameter readAlong: keys read in the same `MGET` as the cutoffs (a service's
    ///   shared count of writes), handed to the requests checked in that round.
    public init(redis: RedisClient, readAlong: [String] = []) {
        self.redis = redis
        self.readAlong = readAlong
        self.rounds = ReadRounds { userIDs in
            let keys = userIDs.map(Self.key) + readAlong
            let values = try await redis.send([RESPArgument("MGET")] + keys.map { RESPArgument($0) }).array ?? []
            // An answer that is not one value per key is no answer: the guard fails as it
            // does when Redis cannot be reached, never open.
            guard values.count == keys.count else { throw SessionCutoffsError.unexpectedReply }
            var round = Round()
            for (userID, value) in zip(userIDs, values) {
                if let cutoff = value.string.flatMap({ Int64($0) }) { round.cutoffs[userID] = cutoff }
            }
            if !readAlong.isEmpty {
                var along: [String: String?] = [:]
                for (key, value) in zip(readAlong, values.suffix(readAlong.count)) { along[key] = value.string }
                round.along = ReadAlong(values: along)
            }
            return round
        }
    }

    static func key(_ userID: Int64) -> String { "shop:session-cutoff:\(userID)" }

    /// Only ever moves a cutoff forward: an ending delivered late (a retried event, a
    /// replay) must not bring back tokens a later one ended.
    static let raise = RedisScript(
        """
        local current = tonumber(redis.call('GET', KEYS[1]))
        if current == nil or current < tonumber(ARGV[1]) then
            redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
        end
        return 1
        """
    )

    public func endSessions(of userID: Int64, at instant: Date) async throws {
        let millis = Int64((instant.timeIntervalSince1970 * 1000).rounded(.down))
        _ = try await redis.evaluate(
            Self.raise,
            keys: [Self.key(userID)],
            arguments: [RESPArgument(String(millis)), RESPArgument(Int(SessionCutoffRetention.seconds))]
        )
    }

    public func cutoff(of userID: Int64) async throws -> Int64? {
        try await rounds.read([userID]).cutoffs[userID]
    }

    public func check(_ principal: Principal) async throws -> (revoked: Bool, readAlong: ReadAlong?) {
        let round = try await rounds.read([principal.userID])
        return (Self.isRevoked(principal, cutoff: round.cutoffs[principal.userID]), round.along)
    }
}

enum SessionCutoffsError: Error {
    case unexpectedReply
}
