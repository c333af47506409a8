import Foundation
import Hummingbird
import Platform
import UserAPI

/// `/api/v1/auth`: logins, token refresh and logout.
struct AuthRoutes: Sendable {
    let accounts: Accounts

    /// Tokens must never be cached anywhere.
    static let noStore: HTTPFields = [.cacheControl: "no-store"]

    func add(to group: RouterGroup<ShopRequestContext>) {
        let auth = group.group("auth")
        auth.post("token", use: token)
        auth.post("refresh", use: refresh)
        auth.post("logout", use: logout)
    }

    @Sendable func token(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(TokenRequest.self, from: request)
        var validation = Validation()
        let email = validation.required("email", body.email)
        let password = validation.required("password", body.password)
        let credentials = try validation.check(email, password)
        let session = try await accounts.logIn(email: credentials.0, password: credentials.1)
        return try JSONResponse.success(session, headers: Self.noStore)
    }

    @Sendable func refresh(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let presented = try await Self.refreshToken(from: request)
        let session = try await accounts.refresh(presented)
        return try JSONResponse.success(session, headers: Self.noStore)
    }

    @Sendable func logout(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let presented = try await Self.refreshToken(from: request)
        try await accounts.logOut(presented)
        return JSONResponse.noContent()
    }

    private static func refreshToken(from request: Request) async throws -> RefreshToken {
        let body = try await JSONBody.decode(RefreshTokenRequest.self, from: request)
        guard let raw = body.refreshToken else { throw APIError.validation("Is required", field: "refresh_token") }
        return RefreshToken(value: raw)
    }
}
