public import ServiceContract

/// The body of `POST /api/v1/auth/token`: a login.
public struct TokenRequest: JSONRequestBody, Encodable, Hashable {
    public var email: String?
    public var password: String?

    public init(email: String?, password: String?) {
        self.email = email
        self.password = password
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case email, password
    }
}

/// The body of `POST /api/v1/auth/refresh` and `POST /api/v1/auth/logout`.
public struct RefreshTokenRequest: JSONRequestBody, Encodable, Hashable {
    public var refreshToken: String?

    public init(refreshToken: String?) {
        self.refreshToken = refreshToken
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case refreshToken = "refresh_token"
    }
}

/// A session's tokens, as a login or a refresh returns them.
public struct TokenResource: Codable, Sendable, Hashable {
    public var accessToken: String
    public var tokenType: String
    /// Seconds until the access token expires.
    public var expiresIn: Int
    /// Opaque; good for one refresh.
    public var refreshToken: String
    /// Seconds until the refresh token expires.
    public var refreshExpiresIn: Int

    public init(accessToken: String, expiresIn: Int, refreshToken: String, refreshExpiresIn: Int) {
        self.accessToken = accessToken
        self.tokenType = "Bearer"
        self.expiresIn = expiresIn
        self.refreshToken = refreshToken
        self.refreshExpiresIn = refreshExpiresIn
    }

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case refreshToken = "refresh_token"
        case refreshExpiresIn = "refresh_expires_in"
    }
}
