public import HTTPTypes

/// How a request's path is named where a client must not choose the name: in policy
/// decisions and in metric labels.
public enum RoutePath {
    /// The metric label of every request that matched no route: one series, however many
    /// different paths clients invent.
    public static let unmatched = "unmatched"

    /// `path` as the router reads it: empty segments dropped, no trailing slash
    /// (`//api/v1//users/` is `/api/v1/users`).
    public static func collapsed(_ path: String) -> String {
        "/" + path.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
    }

    /// The method as a metric label: the methods routes serve, and `OTHER` for any token a
    /// client makes up.
    public static func methodLabel(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .head, .post, .put, .patch, .delete, .options: method.rawValue
        default: "OTHER"
        }
    }
}
