public import Platform

/// The body of `POST /api/v1/users`. Fields are optional on the wire so that every
/// missing or invalid one is reported at once.
public struct CreateUserRequest: JSONRequestBody, Encodable, Hashable {
    public var email: String?
    public var name: String?

    public init(email: String?, name: String?) {
        self.email = email
        self.name = name
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case email, name
    }
}

/// The body of `PATCH /api/v1/users/{id}`: only the fields present change.
public struct UpdateUserRequest: JSONRequestBody {
    public var email: PatchField<String>
    public var name: PatchField<String>

    public init(email: PatchField<String> = .absent, name: PatchField<String> = .absent) {
        self.email = email
        self.name = name
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case email, name
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        email = try container.decodePatch(String.self, forKey: .email)
        name = try container.decodePatch(String.self, forKey: .name)
    }
}
