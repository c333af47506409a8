import Foundation

/// Whether tests may go without a backend (PostgreSQL, redis-server, moto_server).
///
/// `scripts/test`, and so CI, sets `SHOP_TEST_REQUIRE_BACKENDS=1`: then every test runs,
/// and one whose backend is missing fails with an error naming it. Without it (a plain
/// `swift test`), such tests are skipped, and each says so by name in the run's output,
/// so a partial run is never mistaken for a whole one.
public enum Backends {
    public static var required: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["SHOP_TEST_REQUIRE_BACKENDS"] == "1" || environment["CI"] == "true"
    }

    /// The first executable called `name` on `PATH`.
    public static func executable(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Says which tests go without what, on standard error.
    public static func reportSkip(_ what: String, in place: String) {
        FileHandle.standardError.write(Data("SKIPPED (\(what) missing): \(place)\n".utf8))
    }

    /// `fallback`, the cases left when `what` is missing, after saying which were dropped.
    public static func skipping<Cases>(_ what: String, in place: String, _ fallback: Cases) -> Cases {
        reportSkip(what, in: place)
        return fallback
    }
}

/// A backend a test needs is not there, and `SHOP_TEST_REQUIRE_BACKENDS` says it must be.
public struct MissingBackend: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
