import AsyncHTTPClient
import Foundation
import NIOCore
public import ObjectStorage

/// A private `moto_server` (an S3-compatible test server) that checks signatures: the
/// first three calls, unauthenticated, create an IAM user with an access key and a
/// policy; every call after that must be signed with that key.
public final class MotoServer: @unchecked Sendable {
    public let port: Int
    public let accessKey: String
    public let secretKey: String
    private let process: ChildProcess

    public static var executable: String? { Backends.executable("moto_server") }

    /// Whether tests that need moto_server run: when it is on `PATH`, or required
    /// (``Backends/required``, and then they fail without it).
    public static var available: Bool { executable != nil || Backends.required }

    private init(port: Int, accessKey: String, secretKey: String, process: ChildProcess) {
        self.port = port
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.process = process
    }

    public static func start() async throws -> MotoServer {
        guard let executable else { throw MissingBackend("moto_server is not on PATH (pip install 'moto[server]')") }
        var environment = ProcessInfo.processInfo.environment
        environment["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
        // A port taken between the look and the bind makes moto exit: try another. It is up
        // when its own API answers 200 while it still runs (not another test's server).
        for _ in 1...5 {
            let port = try freePort()
            let process = try ChildProcess(executable, arguments: ["-H", "127.0.0.1", "-p", String(port)], environment: environment)
            let base = "http://127.0.0.1:\(port)"
            var up = false
            for _ in 0..<200 where !up && process.isRunning {
                try await Task.sleep(for: .milliseconds(50))
                let answer = try? await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/moto-api/"), timeout: .seconds(1))
                up = answer?.status == .ok && process.isRunning
            }
            if up { return try await provision(base: base, port: port, process: process) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                throw MotoDidNotStart()
            }
        }
        throw MotoDidNotStart()
    }

    private static func provision(base: String, port: Int, process: ChildProcess) async throws -> MotoServer {
        let user = "shop-tests"
        _ = try await iam(base, ["Action": "CreateUser", "UserName": user])
        let key = try await iam(base, ["Action": "CreateAccessKey", "UserName": user])
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
        _ = try await iam(base, ["Action": "PutUserPolicy", "UserName": user, "PolicyName": "all", "PolicyDocument": policy])
        guard let accessKey = element("AccessKeyId", in: key), let secretKey = element("SecretAccessKey", in: key) else {
            kill(process.processIdentifier, SIGKILL)
            throw MotoDidNotStart()
        }
        return MotoServer(port: port, accessKey: accessKey, secretKey: secretKey, process: process)
    }

    public func configuration(bucket: String, pathStyle: Bool) -> S3Storage.Configuration {
        S3Storage.Configuration(
            endpoint: URL(string: "http://127.0.0.1:\(port)")!,
            bucket: bucket,
            region: "us-east-1",
            accessKey: accessKey,
            secretKey: secretKey,
            pathStyle: pathStyle
        )
    }

    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    deinit { stop() }

    private static func iam(_ base: String, _ parameters: [String: String]) async throws -> String {
        var request = HTTPClientRequest(url: base + "/")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(
            name: "Authorization",
            value: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261126/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"
        )
        let form = (parameters.merging(["Version": "2010-05-08"]) { $1 })
            .map { "\($0.key)=\(SigV4Signer.encode($0.value))" }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: form))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return String(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    private static func element(_ name: String, in xml: String) -> String? {
        guard let start = xml.range(of: "<\(name)>"), let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex) else {
            return nil
        }
        return String(xml[start.upperBound..<end.lowerBound])
    }
}

public struct MotoDidNotStart: Error {}
