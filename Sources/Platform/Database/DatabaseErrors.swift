import PostgresNIO

/// Recognising database errors that carry meaning for the domain, on either engine.
public enum DatabaseErrors {
    /// Whether `error` is the violation of a unique constraint or index.
    public static func isUniqueViolation(_ error: any Error) -> Bool {
        switch error {
        case let error as PSQLError:
            return error.serverInfo?[.sqlState] == "23505"
        case let error as SQLiteFailure:
            return error.isUniqueViolation
        default:
            return false
        }
    }
}
