import Foundation
import Hummingbird
import Platform

/// Where a user can be reached besides e-mail: `/users/{id|me}/phone` (a number that gets
/// SMS once its owner typed in the code sent to it) and `/users/{id|me}/devices` (the push
/// registration tokens of their apps). A customer manages their own (404 for another's);
/// staff and admins read anyone's, and admins change them.
struct ContactRoutes: Sendable {
    let contacts: ContactStore
    let codes: VerificationCode
    let now: @Sendable () -> Date

    static let privateCache: HTTPFields = [.cacheControl: "private, no-store"]

    func add(to group: RouterGroup<ShopRequestContext>) {
        let users = group.group("users/{id}").restricted(to: .authenticated)
        users.get("phone", use: showPhone)
        users.put("phone", use: setPhone)
        users.delete("phone", use: deletePhone)
        users.post("phone/verification", use: verifyPhone)
        users.get("devices", use: listDevices)
        users.post("devices", use: registerDevice)
        users.delete("devices/{device_id}", use: deleteDevice)
    }

    /// The user a request is about: `me`, or an id that a customer may name only for
    /// themselves (404 otherwise). Changes to someone else's need an admin.
    private func user(_ context: ShopRequestContext, changing: Bool) throws -> Int64 {
        let principal = try context.requirePrincipal()
        let userID = try context.parameters.userID("id", caller: principal.userID)
        guard principal.role != .customer || principal.userID == userID else { throw APIError.notFound("User") }
        if changing, principal.userID != userID, principal.role != .admin {
            throw APIError(.forbidden, "Only the user or an admin can change where they are reached")
        }
        return userID
    }

    @Sendable func showPhone(_ request: Request, context: ShopRequestContext) async throws -> Response {
        guard let phone = try await contacts.phone(userID: try user(context, changing: false)) else { throw APIError.notFound("Phone number") }
        return try JSONResponse.success(PhoneResource(phone), headers: Self.privateCache)
    }

    /// Sets the number and sends a code to it (202: the number is not used until the code
    /// comes back); the number already verified answers 200 and sends nothing.
    @Sendable func setPhone(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let userID = try user(context, changing: true)
        let body = try await JSONBody.decode(PhoneRequest.self, from: request)
        var validation = Validation()
        let number = validation.required("phone_number", body.phoneNumber) { (raw: String) throws(InvalidValue) in try PhoneNumber(raw) }
        let locale = validation.optional("locale", body.locale) { (raw: String) throws(InvalidValue) in try LanguageTag(raw).value }
        let phoneNumber = try validation.check(number)
        do {
            let (phone, sent) = try await contacts.setPhone(userID: userID, number: phoneNumber, locale: locale, at: now())
            return try JSONResponse.success(PhoneResource(phone), status: sent ? .accepted : .ok, headers: Self.privateCache)
        } catch ContactStore.PhoneFailure.tooManyCodes(let retryAfter) {
            throw APIError(
                .rateLimited,
                "\(VerificationCode.maximumSends) codes were sent to this user or this number in the last hour; try again later",
                headers: [.retryAfter: String(retryAfter)]
            )
        } catch is ContactStore.UserForgotten {
            throw APIError.notFound("User")
        }
    }

    @Sendable func verifyPhone(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let userID = try user(context, changing: true)
        let body = try await JSONBody.decode(PhoneVerificationRequest.self, from: request)
        var validation = Validation()
        let code = validation.required("code", body.code) { (raw: String) throws(InvalidValue) in
            guard raw.count == 6, raw.allSatisfy({ $0.isASCII && $0.isNumber }) else { throw InvalidValue("must be the 6 digits sent") }
            return raw
        }
        let given = try validation.check(code)
        switch try await contacts.verify(userID: userID, code: given, codes: codes, at: now()) {
        case .verified(let phone):
            return try JSONResponse.success(PhoneResource(phone), headers: Self.privateCache)
        case .noPhone:
            throw APIError.notFound("Phone number")
        case .noCode:
            throw APIError(.conflict, "No code is pending for this number; set the number again to get one")
        case .expired:
            throw APIError.validation("The code has expired; set the number again to get a new one", field: "code")
        case .tooManyAttempts:
            throw APIError.validation("Too many wrong codes; set the number again to get a new one", field: "code")
        case .wrongCode(let left):
            throw APIError.validation("The code is wrong; \(left) more \(left == 1 ? "try" : "tries") with this code", field: "code")
        }
    }

    @Sendable func deletePhone(_ request: Request, context: ShopRequestContext) async throws -> Response {
        guard try await contacts.deletePhone(userID: try user(context, changing: true), at: now()) else {
            throw APIError.notFound("Phone number")
        }
        return JSONResponse.noContent()
    }

    @Sendable func listDevices(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let devices = try await contacts.devices(userID: try user(context, changing: false))
        return try JSONResponse.success(devices.map(DeviceResource.init), headers: Self.privateCache)
    }

    /// Registers an app's token: 201 for a new one, 200 for one already known (it moves to
    /// this user when the app signed into another account).
    @Sendable func registerDevice(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let userID = try user(context, changing: true)
        let body = try await JSONBody.decode(DeviceRequest.self, from: request)
        var validation = Validation()
        let token = validation.required("token", body.token) { (raw: String) throws(InvalidValue) in try Device.validatedToken(raw) }
        let platform = validation.required("platform", body.platform) { (raw: String) throws(InvalidValue) in
            guard let platform = Device.Platform(rawValue: raw) else { throw InvalidValue("must be one of android, ios, web") }
            return platform
        }
        let (deviceToken, devicePlatform) = try validation.check(token, platform)
        let device: Device
        let created: Bool
        do {
            (device, created) = try await contacts.register(userID: userID, token: deviceToken, platform: devicePlatform, at: now())
        } catch is ContactStore.UserForgotten {
            throw APIError.notFound("User")
        }
        var headers = Self.privateCache
        if created { headers[.location] = "/api/v1/users/\(userID)/devices/\(device.id)" }
        return try JSONResponse.success(DeviceResource(device), status: created ? .created : .ok, headers: headers)
    }

    @Sendable func deleteDevice(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let userID = try user(context, changing: true)
        let id = try context.parameters.require("device_id")
        guard id.utf8.count <= 64, try await contacts.deleteDevice(id: id, userID: userID) else { throw APIError.notFound("Device") }
        return JSONResponse.noContent()
    }
}

/// A user's phone number as the API shows it.
struct PhoneResource: Codable, Sendable, Hashable {
    var phoneNumber: String
    var verified: Bool
    var verifiedAt: Date?
    /// The number replied STOP: nothing is sent to it until it is set and verified again.
    var stopped: Bool
    var updatedAt: Date

    init(_ phone: ContactStore.Phone) {
        phoneNumber = phone.number
        verified = phone.verifiedAt != nil
        verifiedAt = phone.verifiedAt
        stopped = phone.stoppedAt != nil
        updatedAt = phone.updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case verified, stopped
        case phoneNumber = "phone_number"
        case verifiedAt = "verified_at"
        case updatedAt = "updated_at"
    }
}

/// A push device as the API shows it: never its token, only the token's end.
struct DeviceResource: Codable, Sendable, Hashable {
    var id: String
    var platform: String
    var tokenSuffix: String
    var createdAt: Date
    var lastSeenAt: Date

    init(_ device: Device) {
        id = device.id
        platform = device.platform.rawValue
        tokenSuffix = device.tokenSuffix
        createdAt = device.createdAt
        lastSeenAt = device.lastSeenAt
    }

    enum CodingKeys: String, CodingKey {
        case id, platform
        case tokenSuffix = "token_suffix"
        case createdAt = "created_at"
        case lastSeenAt = "last_seen_at"
    }
}

/// The body of `PUT /api/v1/users/{id}/phone`.
struct PhoneRequest: JSONRequestBody, Encodable, Hashable {
    var phoneNumber: String?
    /// The language of the code's SMS (the user's preference is not known to every caller).
    var locale: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case locale
        case phoneNumber = "phone_number"
    }
}

/// The body of `POST /api/v1/users/{id}/phone/verification`.
struct PhoneVerificationRequest: JSONRequestBody, Encodable, Hashable {
    var code: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case code
    }
}

/// The body of `POST /api/v1/users/{id}/devices`.
struct DeviceRequest: JSONRequestBody, Encodable, Hashable {
    var token: String?
    var platform: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case token, platform
    }
}
