import Platform
import UserAPI

extension UserSortField: SortField {}

extension UserResource {
    init(_ user: User) {
        self.init(
            id: user.id,
            email: user.email.value,
            name: user.name.value,
            role: user.role.rawValue,
            createdAt: user.createdAt,
            updatedAt: user.updatedAt
        )
    }
}

extension PreferencesResource {
    init(_ preferences: Preferences) {
        self.init(
            marketingEmails: preferences.marketingEmails,
            orderEmails: preferences.orderEmails,
            sms: preferences.sms,
            push: preferences.push,
            locale: preferences.locale.value
        )
    }
}

/// A registration as the domain sees it: the user and the password they chose.
struct Registration: Sendable {
    var user: NewUser
    var password: Password
    /// The role asked for, which only an admin may grant.
    var requestedRole: Role?
}

extension Registration {
    /// The domain input from a request body, or every problem with it at once.
    init(validating body: CreateUserRequest) throws(APIError) {
        var validation = Validation()
        let email = validation.required("email", body.email, EmailAddress.init(_:))
        let name = validation.required("name", body.name, PersonName.init(_:))
        let password = validation.required("password", body.password, Password.init(_:))
        let role = validation.optional("role", body.role, Role.init(parsing:))
        let (validEmail, validName, validPassword) = try validation.check(email, name, password)
        self.init(user: NewUser(email: validEmail, name: validName), password: validPassword, requestedRole: role)
    }
}

extension Role {
    init(parsing raw: String) throws(InvalidValue) {
        guard let role = Role(rawValue: raw) else {
            throw InvalidValue("Must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = role
    }
}

extension UserChanges {
    /// The domain change from a `PATCH` body, or every problem with it at once.
    init(validating body: UpdateUserRequest) throws(APIError) {
        var validation = Validation()
        var changes = UserChanges()
        changes.email = validation.change("email", body.email, EmailAddress.init(_:))
        changes.name = validation.change("name", body.name, PersonName.init(_:))
        changes.role = validation.change("role", body.role, Role.init(parsing:))
        try validation.check()
        self = changes
    }
}

extension Preferences {
    /// Preferences from a `PUT` body: every field is required.
    init(validating body: PreferencesRequest) throws(APIError) {
        var validation = Validation()
        let marketingEmails = validation.required("marketing_emails", body.marketingEmails)
        let orderEmails = validation.required("order_emails", body.orderEmails)
        let sms = validation.required("sms", body.sms)
        let push = validation.required("push", body.push)
        let locale = validation.required("locale", body.locale, LanguageTag.init(_:))
        let values = try validation.check(marketingEmails, orderEmails, sms, push, locale)
        self.init(marketingEmails: values.0, orderEmails: values.1, sms: values.2, push: values.3, locale: values.4)
    }
}

extension UserError: APIErrorConvertible {
    var apiError: APIError {
        switch self {
        case .notFound: .notFound("User")
        case .emailTaken: .validation("Email address already exists", field: "email")
        case .forbidden(let field): APIError(.forbidden, "Your role may not do this", field: field)
        case .invalidCredentials:
            APIError(.unauthenticated, "Email or password is incorrect")
        case .wrongCurrentPassword: .validation("Is not your current password", field: "current_password")
        case .invalidRefreshToken:
            APIError(.unauthenticated, "The refresh token is not valid", field: "refresh_token")
        }
    }
}

extension PasswordHashingBusy: APIErrorConvertible {
    var apiError: APIError {
        APIError(.upstreamUnavailable, "Too many sign-ins at once; retry in a few seconds", headers: [.retryAfter: "2"])
    }
}
