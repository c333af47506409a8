import Crypto
import Foundation
import Platform
import _CryptoExtras

/// A Google service account, read from the JSON key file the Cloud console hands out: who
/// asks Google for access tokens, where, and the RSA key that signs the request.
///
/// The key stays inside this value: it signs ``assertion(scope:issuedAt:)`` and never appears
/// in a description, a debug description, a mirror or an error.
struct ServiceAccount: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Why a service account file was refused; the message never repeats the key.
    struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        let message: String

        init(_ message: String) {
            self.message = message
        }

        var description: String { message }
    }

    /// How long an assertion is valid from its issue: the most Google accepts.
    static let assertionLifetime: Int64 = 3600

    let projectID: String
    /// The id of the key in `privateKey`, which Google uses to pick the public key that checks
    /// the signature.
    let privateKeyID: String
    let clientEmail: String
    /// Where assertions are exchanged for access tokens (`https://oauth2.googleapis.com/token`).
    let tokenURI: String
    private let privateKey: _RSA.Signing.PrivateKey

    /// Reads a service account key file's contents.
    ///
    /// - Throws: ``Invalid`` when the contents are not JSON, the `type` is not
    ///   `service_account`, a field is missing, or `private_key` is not an RSA key in PEM
    ///   form (PKCS#8, `BEGIN PRIVATE KEY`) of at least 2048 bits.
    init(json: Data) throws(Invalid) {
        let file: KeyFile
        do {
            file = try JSONDecoder().decode(KeyFile.self, from: json)
        } catch let DecodingError.typeMismatch(_, context) where !context.codingPath.isEmpty {
            throw Invalid("The service account file's \(context.codingPath.map(\.stringValue).joined(separator: ".")) is not a string")
        } catch {
            throw Invalid("The service account file is not a JSON object")
        }
        guard file.type == "service_account" else {
            let found = file.type.map { "\"\($0)\"" } ?? "missing"
            throw Invalid("The file's type is \(found), not \"service_account\": it must be a service account key")
        }
        let fields: [(name: String, value: String?)] = [
            ("project_id", file.project_id), ("private_key_id", file.private_key_id), ("private_key", file.private_key),
            ("client_email", file.client_email), ("token_uri", file.token_uri),
        ]
        let missing = fields.filter { $0.value?.isEmpty ?? true }.map(\.name)
        guard missing.isEmpty, let projectID = file.project_id, let privateKeyID = file.private_key_id,
            let pem = file.private_key, let clientEmail = file.client_email, let tokenURI = file.token_uri
        else {
            throw Invalid("The service account file lacks \(missing.joined(separator: ", "))")
        }
        do {
            privateKey = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw Invalid("The service account's private_key is not an RSA private key of at least 2048 bits in PEM form")
        }
        self.projectID = projectID
        self.privateKeyID = privateKeyID
        self.clientEmail = clientEmail
        self.tokenURI = tokenURI
    }

    /// A JWT for the OAuth 2.0 JWT bearer grant (RFC 7523) asking for `scope` at
    /// ``tokenURI``, valid for ``assertionLifetime`` seconds from `issuedAt` and signed RS256
    /// with the account's key.
    func assertion(scope: String, issuedAt: Date) throws -> String {
        let issued = Int64(issuedAt.timeIntervalSince1970.rounded(.down))
        let header = Header(alg: "RS256", typ: "JWT", kid: privateKeyID)
        let claims = Claims(iss: clientEmail, scope: scope, aud: tokenURI, iat: issued, exp: issued + Self.assertionLifetime)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let signingInput = Base64URL.encode(try encoder.encode(header)) + "." + Base64URL.encode(try encoder.encode(claims))
        let signature = try privateKey.signature(for: SHA256.hash(data: Data(signingInput.utf8)), padding: .insecurePKCS1v1_5)
        return signingInput + "." + Base64URL.encode(signature.rawRepresentation)
    }

    var description: String { "service account \(clientEmail) (project \(projectID), key \(privateKeyID))" }
    var debugDescription: String { description }
    var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "projectID": projectID, "privateKeyID": privateKeyID, "clientEmail": clientEmail, "tokenURI": tokenURI,
                "privateKey": "***",
            ]
        )
    }

    /// The fields of a key file this type reads; the file has more (`client_id`, certificate URLs).
    private struct KeyFile: Decodable {
        let type: String?
        let project_id: String?
        let private_key_id: String?
        let private_key: String?
        let client_email: String?
        let token_uri: String?
    }

    private struct Header: Encodable {
        let alg: String
        let typ: String
        let kid: String
    }

    private struct Claims: Encodable {
        let iss: String
        let scope: String
        let aud: String
        let iat: Int64
        let exp: Int64
    }
}
