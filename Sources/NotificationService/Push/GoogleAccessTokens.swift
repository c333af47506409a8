import Foundation
import Platform

/// OAuth 2.0 access tokens for a service account, from Google's token endpoint through the
/// JWT bearer grant (RFC 7523), kept until ``refreshMargin`` before they expire.
///
/// Callers that need a token while one is being fetched wait for that fetch instead of
/// starting their own. Neither a token nor the signed assertion ever appears in a detail.
actor GoogleAccessTokens {
    /// How long before its expiry a token is replaced, so that none expires on its way.
    static let refreshMargin: TimeInterval = 300
    static let grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

    private struct AccessToken: Sendable {
        let value: String
        let refreshAfter: Date
    }

    private let account: ServiceAccount
    private let scope: String
    private let exchange: PushHTTPExchange
    private let now: @Sendable () -> Date
    private var cached: AccessToken?
    private var refresh: Task<Result<AccessToken, DeliveryFailure>, Never>?

    /// - Parameters:
    ///   - scope: What the tokens grant, as a space-separated list of scope URLs.
    ///   - now: The current time, which the assertion's `iat` and the token's expiry count from.
    init(account: ServiceAccount, scope: String, exchange: PushHTTPExchange, now: @escaping @Sendable () -> Date) {
        self.account = account
        self.scope = scope
        self.exchange = exchange
        self.now = now
    }

    /// A token that is valid for ``refreshMargin`` at least, fetched when the one kept is not.
    ///
    /// - Throws: ``DeliveryFailure``: `transient` when the token endpoint timed out, could not
    ///   be reached or answered 408, 429 or 5xx; `permanent` when it refused the grant (400,
    ///   401, `invalid_grant`: a revoked key, a wrong clock) or any other status.
    func current() async throws(DeliveryFailure) -> String {
        if let cached, now() < cached.refreshAfter { return cached.value }
        let fetch: Task<Result<AccessToken, DeliveryFailure>, Never>
        if let refresh {
            fetch = refresh
        } else {
            fetch = Task { await self.requestToken() }
            refresh = fetch
        }
        let result = await fetch.value
        // Every caller that waited on this fetch resumes here; the first one keeps its outcome.
        if refresh == fetch {
            refresh = nil
            if case .success(let token) = result { cached = token }
        }
        return try result.get().value
    }

    /// Forgets `token` after the service refused it, so that the next ``current()`` fetches a
    /// new one; a token other than the one kept (already replaced) changes nothing.
    func discard(_ token: String) {
        if cached?.value == token { cached = nil }
    }

    private nonisolated func requestToken() async -> Result<AccessToken, DeliveryFailure> {
        let requestedAt = now()
        let assertion: String
        do {
            assertion = try account.assertion(scope: scope, issuedAt: requestedAt)
        } catch {
            return .failure(.permanent("Could not get an access token: signing the request with the service account's key failed"))
        }
        let form = "grant_type=\(Self.formEncoded(Self.grantType))&assertion=\(Self.formEncoded(assertion))"
        let answer: PushHTTPExchange.Answer
        do {
            answer = try await exchange.post(
                Array(form.utf8),
                to: account.tokenURI,
                contentType: "application/x-www-form-urlencoded",
                peer: "the token endpoint"
            )
        } catch {
            return .failure(DeliveryFailure(kind: error.kind, detail: "Could not get an access token: \(error.detail)"))
        }
        return Self.token(from: answer, requestedAt: requestedAt, assertion: assertion)
    }

    private static func token(from answer: PushHTTPExchange.Answer, requestedAt: Date, assertion: String) -> Result<AccessToken, DeliveryFailure> {
        guard (200..<300).contains(answer.status) else {
            let detail = "Could not get an access token: \(answer.status)\(reason(in: answer.body, assertion: assertion))"
            switch answer.status {
            case 408, 429, 500..<600: return .failure(.transient(detail))
            default: return .failure(.permanent(detail))
            }
        }
        guard let granted = try? JSONDecoder().decode(Granted.self, from: Data(answer.body)), !granted.access_token.isEmpty,
            granted.token_type?.lowercased() ?? "bearer" == "bearer"
        else {
            return .failure(.transient("Could not get an access token: the token endpoint's \(answer.status) holds no bearer token"))
        }
        let refreshAfter = requestedAt.addingTimeInterval(TimeInterval(granted.expires_in) - refreshMargin)
        return .success(AccessToken(value: granted.access_token, refreshAfter: refreshAfter))
    }

    /// ` invalid_grant: Invalid JWT Signature.`, from an OAuth error answer (RFC 6749 §5.2),
    /// or the start of an answer of another kind.
    private static func reason(in body: [UInt8], assertion: String) -> String {
        let text: String
        if let refusal = try? JSONDecoder().decode(Refusal.self, from: Data(body)) {
            text = [refusal.error, refusal.error_description].compactMap { $0 }.joined(separator: ": ")
        } else {
            text = String(decoding: body, as: UTF8.self)
        }
        let shortened = PushFailureDetail.shortened(PushFailureDetail.redacting(text, secrets: [assertion]))
        return shortened.isEmpty ? "" : " \(shortened)"
    }

    /// `text` as a value of an `application/x-www-form-urlencoded` body.
    private static func formEncoded(_ text: String) -> String {
        PercentEncoding.encoded(text)
    }

    /// A token endpoint's answer to a granted request.
    private struct Granted: Decodable {
        let access_token: String
        let expires_in: Int
        let token_type: String?
    }

    /// A token endpoint's answer to a refused request.
    private struct Refusal: Decodable {
        let error: String?
        let error_description: String?
    }
}
