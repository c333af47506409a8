public import ServiceContract

/// The body of `POST /api/v1/users`. Fields are optional on the wire so that every
/// missing or invalid one is reported at once.
public struct CreateUserRequest: JSONRequestBody, Encodable, Hashable {
    public var email: String?
    public var name: String?
    public var password: String?
    /// Only an admin may give a role other than `customer`.
    public var role: String?

    public init(email: String?, name: String?, password: String?, role: String? = nil) {
        self.email = email
        self.name = name
        self.password = password
        self.role = role
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case email, name, password, role
    }
}

/// The body of `PATCH /api/v1/users/{id}`: only the fields present change.
public struct UpdateUserRequest: JSONRequestBody {
    public var email: PatchField<String>
    public var name: PatchField<String>
    /// Only an admin may change a role.
    public var role: PatchField<String>

    public init(email: PatchField<String> = .absent, name: PatchField<String> = .absent, role: PatchField<String> = .absent) {
        self.email = email
        self.name = name
        self.role = role
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case email, name, role
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        email = try container.decodePatch(String.self, forKey: .email)
        name = try container.decodePatch(String.self, forKey: .name)
        role = try container.decodePatch(String.self, forKey: .role)
    }
}

/// The body of `PUT /api/v1/users/me/password`.
public struct ChangePasswordRequest: JSONRequestBody, Encodable, Hashable {
    public var currentPassword: String?
    public var newPassword: String?

    public init(currentPassword: String?, newPassword: String?) {
        self.currentPassword = currentPassword
        self.newPassword = newPassword
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case currentPassword = "current_password"
        case newPassword = "new_password"
    }
}

/// The body of `PUT /api/v1/users/{id}/preferences`: every field, as it should be.
public struct PreferencesRequest: JSONRequestBody, Encodable, Hashable {
    public var marketingEmails: Bool?
    public var orderEmails: Bool?
    public var sms: Bool?
    public var push: Bool?
    public var locale: String?

    public init(marketingEmails: Bool?, orderEmails: Bool?, sms: Bool?, push: Bool?, locale: String?) {
        self.marketingEmails = marketingEmails
        self.orderEmails = orderEmails
        self.sms = sms
        self.push = push
        self.locale = locale
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case marketingEmails = "marketing_emails"
        case orderEmails = "order_emails"
        case sms, push, locale
    }
}
