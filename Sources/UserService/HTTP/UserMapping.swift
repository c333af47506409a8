import Platform
import UserAPI

extension UserSortField: SortField {}

extension UserResource {
    init(_ user: User) {
        self.init(
            id: user.id, email: user.email.value, name: user.name.value,
            createdAt: user.createdAt, updatedAt: user.updatedAt)
    }
}

extension NewUser {
    /// The domain input from a request body, or every problem with it at once.
    init(validating body: CreateUserRequest) throws(APIError) {
        var validation = Validation()
        let email = body.email.flatMap { raw in validation.field("email") { () throws(InvalidValue) in try EmailAddress(raw) } }
        let name = body.name.flatMap { raw in validation.field("name") { () throws(InvalidValue) in try PersonName(raw) } }
        if body.email == nil { validation.missing("email") }
        if body.name == nil { validation.missing("name") }
        try validation.check()
        self.init(email: email!, name: name!)
    }
}

extension UserChanges {
    /// The domain change from a `PATCH` body, or every problem with it at once.
    init(validating body: UpdateUserRequest) throws(APIError) {
        var validation = Validation()
        var changes = UserChanges()
        switch body.email {
        case .absent: break
        case .null: validation.invalid("email", "Must not be null")
        case .value(let raw): changes.email = validation.field("email") { () throws(InvalidValue) in try EmailAddress(raw) }
        }
        switch body.name {
        case .absent: break
        case .null: validation.invalid("name", "Must not be null")
        case .value(let raw): changes.name = validation.field("name") { () throws(InvalidValue) in try PersonName(raw) }
        }
        try validation.check()
        self = changes
    }
}

extension UserError: APIErrorConvertible {
    var apiError: APIError {
        switch self {
        case .notFound: .notFound("User")
        case .emailTaken: .validation("Email address already exists", field: "email")
        }
    }
}
