import Foundation
import TestSupport
import Testing

@testable import NotificationService

@Suite struct WebhookSignatureTests {
    // The example of the Standard Webhooks specification; the reference implementation
    // (Python `standardwebhooks`) gives the same signature for it.
    static let specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let specID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    static let specTimestamp: Int64 = 1_614_265_330
    static let specBody = Array(#"{"test": 2432232314}"#.utf8)
    static let specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    @Test func signingTheSpecificationsExampleGivesItsKnownSignature() throws {
        let signature = try WebhookSignature(secret: Self.specSecret)

        let header = signature.sign(id: Self.specID, timestamp: Self.specTimestamp, body: Self.specBody)

        #expect(header == Self.specSignature)
    }

    @Test func aGeneratedSecretIsWhsecAndTheBase64Of32RandomBytes() throws {
        let first = WebhookSignature.generateSecret()
        let second = WebhookSignature.generateSecret()

        #expect(first.hasPrefix("whsec_"))
        #expect(Data(base64Encoded: String(first.dropFirst(6)))?.count == 32)
        #expect(first != second)
        _ = try WebhookSignature(secret: first)
    }

    @Test(arguments: [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  // no prefix
        "whsec_",  // nothing after it
        "whsec_not base64!",
        "whsec_c2hvcnQ=",  // 5 bytes: too short a key
    ])
    func aMalformedSecretIsRefused(secret: String) {
        #expect(throws: WebhookSignature.Failure.self) { try WebhookSignature(secret: secret) }
    }

    @Test func aSecretWithoutBase64PaddingIsTheSameKey() throws {
        let unpadded = try WebhookSignature(secret: "whsec_MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NQ")
        let padded = try WebhookSignature(secret: "whsec_MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NQ==")

        #expect(unpadded.sign(id: "msg_1", timestamp: 1, body: [1]) == padded.sign(id: "msg_1", timestamp: 1, body: [1]))
    }

    @Test func verifyAcceptsTheSpecificationsExampleWithinTheTolerance() throws {
        let signature = try WebhookSignature(secret: Self.specSecret)
        let now = Date(timeIntervalSince1970: TimeInterval(Self.specTimestamp + 299))

        try signature.verify(id: Self.specID, timestamp: "\(Self.specTimestamp)", signature: Self.specSignature, body: Self.specBody, now: now)
    }

    @Test func verifyRefusesATamperedBodyAnotherIDOrAnotherSecret() throws {
        let signature = try WebhookSignature(secret: Self.specSecret)
        let other = try WebhookSignature(secret: WebhookSignature.generateSecret())
        let now = Date(timeIntervalSince1970: TimeInterval(Self.specTimestamp))
        let timestamp = "\(Self.specTimestamp)"

        #expect(throws: WebhookSignature.Failure.noMatchingSignature) {
            try signature.verify(id: Self.specID, timestamp: timestamp, signature: Self.specSignature, body: Self.specBody + [0x20], now: now)
        }
        #expect(throws: WebhookSignature.Failure.noMatchingSignature) {
            try signature.verify(id: "msg_other", timestamp: timestamp, signature: Self.specSignature, body: Self.specBody, now: now)
        }
        #expect(throws: WebhookSignature.Failure.noMatchingSignature) {
            try other.verify(id: Self.specID, timestamp: timestamp, signature: Self.specSignature, body: Self.specBody, now: now)
        }
    }

    @Test func verifyRefusesATimestampOutsideTheToleranceEitherWay() throws {
        let signature = try WebhookSignature(secret: Self.specSecret)
        let timestamp = "\(Self.specTimestamp)"

        for offset in [-301, 301] {
            let now = Date(timeIntervalSince1970: TimeInterval(Self.specTimestamp + Int64(offset)))
            #expect(throws: WebhookSignature.Failure.timestampOutsideTolerance) {
                try signature.verify(id: Self.specID, timestamp: timestamp, signature: Self.specSignature, body: Self.specBody, now: now)
            }
        }
        #expect(throws: WebhookSignature.Failure.malformedTimestamp) {
            try signature.verify(id: Self.specID, timestamp: "16142653.30", signature: Self.specSignature, body: Self.specBody, now: Date())
        }
    }

    @Test func verifyAcceptsAListWhereOneSignatureMatchesAsDuringSecretRotation() throws {
        let signature = try WebhookSignature(secret: Self.specSecret)
        let now = Date(timeIntervalSince1970: TimeInterval(Self.specTimestamp))
        let stale = try WebhookSignature(secret: WebhookSignature.generateSecret())
            .sign(id: Self.specID, timestamp: Self.specTimestamp, body: Self.specBody)
        let list = "v1a,c29tZXRoaW5nIGVsc2U= \(stale) \(Self.specSignature)"

        try signature.verify(id: Self.specID, timestamp: "\(Self.specTimestamp)", signature: list, body: Self.specBody, now: now)
        #expect(throws: WebhookSignature.Failure.noMatchingSignature) {
            try signature.verify(id: Self.specID, timestamp: "\(Self.specTimestamp)", signature: stale, body: Self.specBody, now: now)
        }
    }

    @Test func verifyNamesAMissingHeader() throws {
        let signature = try WebhookSignature(secret: Self.specSecret)

        #expect(throws: WebhookSignature.Failure.missingHeader("webhook-signature")) {
            try signature.verify(id: Self.specID, timestamp: "\(Self.specTimestamp)", signature: nil, body: Self.specBody, now: Date())
        }
    }

    @Test func theReferenceImplementationVerifiesOurSignatureAndRefusesATamperedBody() async throws {
        guard let python = Backends.executable("python3") else {
            if Backends.required { throw MissingBackend("python3 (to check signatures with the standardwebhooks library)") }
            return Backends.reportSkip("python3", in: "WebhookSignatureTests")
        }
        let secret = WebhookSignature.generateSecret()
        let id = "msg_2zXq8V1bN4"
        let timestamp = Int64(Date().timeIntervalSince1970)
        let body = Array(#"{"type":"order.paid","data":{"order_id":42,"customer":"Zoë"}}"#.utf8)
        let header = try WebhookSignature(secret: secret).sign(id: id, timestamp: timestamp, body: body)

        let genuine = try await ReferenceVerifier.run(python, secret: secret, id: id, timestamp: timestamp, signature: header, body: body)
        let tampered = try await ReferenceVerifier.run(
            python,
            secret: secret,
            id: id,
            timestamp: timestamp,
            signature: header,
            body: Array(#"{"type":"order.paid","data":{"order_id":43,"customer":"Zoë"}}"#.utf8)
        )

        guard genuine.status != ReferenceVerifier.libraryMissing else {
            if Backends.required { throw MissingBackend("the Python standardwebhooks library (pip install standardwebhooks)") }
            return Backends.reportSkip("the Python standardwebhooks library", in: "WebhookSignatureTests")
        }
        #expect(genuine.status == ReferenceVerifier.verified, "\(genuine.output)")
        #expect(tampered.status == ReferenceVerifier.rejected, "\(tampered.output)")
    }
}

/// The Standard Webhooks reference implementation (Python), run as a receiver would.
private enum ReferenceVerifier {
    static let verified: Int32 = 0
    static let rejected: Int32 = 10
    static let libraryMissing: Int32 = 20

    static let script = """
        import os, sys
        try:
            from standardwebhooks.webhooks import Webhook, WebhookVerificationError
        except ImportError as error:
            print(error)
            sys.exit(20)
        env = os.environb
        headers = {
            "webhook-id": env[b"HOOK_ID"].decode(),
            "webhook-timestamp": env[b"HOOK_TIMESTAMP"].decode(),
            "webhook-signature": env[b"HOOK_SIGNATURE"].decode(),
        }
        try:
            Webhook(env[b"HOOK_SECRET"].decode()).verify(env[b"HOOK_BODY"], headers)
        except WebhookVerificationError as error:
            print("rejected:", error)
            sys.exit(10)
        print("verified")
        """

    static func run(
        _ python: String,
        secret: String,
        id: String,
        timestamp: Int64,
        signature: String,
        body: [UInt8]
    ) async throws -> (status: Int32, output: String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("standardwebhooks-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        var environment = ProcessInfo.processInfo.environment
        environment["HOOK_SECRET"] = secret
        environment["HOOK_ID"] = id
        environment["HOOK_TIMESTAMP"] = "\(timestamp)"
        environment["HOOK_SIGNATURE"] = signature
        environment["HOOK_BODY"] = String(decoding: body, as: UTF8.self)
        let process = try ChildProcess(python, arguments: ["-c", script], environment: environment, output: output)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        // Polled, so that no cooperative thread blocks in waitpid.
        while process.isRunning {
            guard clock.now < deadline else {
                process.terminate()
                throw MissingBackend("python3 did not finish within 60 seconds")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return (process.terminationStatus, text)
    }
}
