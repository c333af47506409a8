import Foundation
import Platform
import Testing

@testable import shop

/// Database and Redis URLs carry passwords: they are read from a file named by `NAME_FILE`
/// as every other secret is (a mounted Kubernetes or compose secret, its newline trimmed).
@Suite struct SecretFileSettingsTests {
    private func withFiles(_ contents: [String: String], _ body: ([String: String]) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("secrets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var paths: [String: String] = [:]
        for (name, text) in contents {
            let file = folder.appendingPathComponent(name)
            try Data(text.utf8).write(to: file)
            paths[name] = file.path
        }
        try body(paths)
    }

    private static let alone = ["INTERNAL_PORT": "9080", "JWT_SIGNING_KEYS": "pem"]

    @Test func databaseAndRedisURLsAreReadFromTheirFiles() throws {
        try withFiles(["database": "postgres://shop:s3cret@db.internal:5432/users\n", "redis": "redis://:r3dis@redis.internal:6380/2\n"]) { files in
            let environment = Self.alone.merging(["DATABASE_URL_FILE": files["database"]!, "REDIS_URL_FILE": files["redis"]!]) { $1 }
            let settings = try Settings(environment: environment, service: .users)
            #expect(settings.usersDatabaseURL?.host == "db.internal")
            #expect(settings.usersDatabaseURL?.password == "s3cret")
            #expect(settings.usersDatabaseURL?.database == "users")
            #expect(settings.redisURL?.host == "redis.internal")
            #expect(settings.redisURL?.port == 6380)
            #expect(settings.redisURL?.password == "r3dis")
        }
    }

    @Test func aWrongURLInAFileIsNamedByTheFileVariableWithoutItsPassword() throws {
        try withFiles(["redis": "http://:r3dis@redis.internal\n"]) { files in
            let environment = Self.alone.merging(["REDIS_URL_FILE": files["redis"]!, "DATABASE_URL": "postgres://shop@db/users"]) { $1 }
            #expect(throws: ConfigurationError.self) { try Settings(environment: environment, service: .users) }
            do {
                _ = try Settings(environment: environment, service: .users)
            } catch {
                #expect("\(error)".hasPrefix("REDIS_URL_FILE "), "\(error)")
                #expect(!"\(error)".contains("r3dis"), "\(error)")
            }
        }
    }

    @Test func aFileThatCannotBeReadIsNamed() {
        let environment = Self.alone.merging(["DATABASE_URL_FILE": "/nonexistent/database-url", "REDIS_URL": "redis://127.0.0.1"]) { $1 }
        #expect(throws: ConfigurationError.self) { try Settings(environment: environment, service: .users) }
        do {
            _ = try Settings(environment: environment, service: .users)
        } catch {
            #expect("\(error)".contains("DATABASE_URL_FILE names a file that cannot be read"), "\(error)")
        }
    }
}
