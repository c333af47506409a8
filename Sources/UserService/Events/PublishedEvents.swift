import UserAPI

extension UserRegistered {
    init(_ user: User) {
        self.init(userID: user.id, email: user.email.value, name: user.name.value, role: user.role.rawValue)
    }
}

extension UserUpdated {
    /// What changed from `old` to `new`.
    init(from old: User, to new: User) {
        var changed: [String] = []
        if old.email != new.email { changed.append("email") }
        if old.name != new.name { changed.append("name") }
        if old.role != new.role { changed.append("role") }
        self.init(userID: new.id, changed: changed, email: new.email.value, name: new.name.value, role: new.role.rawValue)
    }
}
