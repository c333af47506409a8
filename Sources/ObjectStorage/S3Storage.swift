public import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1

/// Blobs in an S3-compatible bucket, signed with AWS Signature V4.
public struct S3Storage: ObjectStorage {
    /// Where the bucket is and the key to sign with.
    public struct Configuration: Sendable {
        /// `https://s3.eu-west-1.amazonaws.com`, or `http://127.0.0.1:9000` for a local server.
        public var endpoint: URL
        public var bucket: String
        public var region: String
        public var accessKey: String
        public var secretKey: String
        /// `true`: `endpoint/bucket/key`; `false`: `bucket.endpoint/key` (virtual-host style).
        public var pathStyle: Bool

        public init(endpoint: URL, bucket: String, region: String, accessKey: String, secretKey: String, pathStyle: Bool) {
            self.endpoint = endpoint
            self.bucket = bucket
            self.region = region
            self.accessKey = accessKey
            self.secretKey = secretKey
            self.pathStyle = pathStyle
        }
    }

    public let configuration: Configuration
    let httpClient: HTTPClient
    let timeout: TimeAmount
    let signer: SigV4Signer

    public init(_ configuration: Configuration, httpClient: HTTPClient = .shared, timeout: TimeAmount = .seconds(10)) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.timeout = timeout
        self.signer = SigV4Signer(
            accessKey: configuration.accessKey,
            secretKey: configuration.secretKey,
            region: configuration.region
        )
    }

    public func put(_ data: Data, key: String, contentType: String) async throws {
        try ObjectKey.validate(key)
        let response = try await send("PUT", key: key, headers: [("content-type", contentType)], body: data)
        guard response.status == 200 else { throw ObjectStorageError.service(status: response.status, body: response.text) }
    }

    public func get(key: String) async throws -> Data? {
        try ObjectKey.validate(key)
        let response = try await send("GET", key: key)
        switch response.status {
        case 200: return response.body
        case 404: return nil
        default: throw ObjectStorageError.service(status: response.status, body: response.text)
        }
    }

    public func delete(key: String) async throws {
        try ObjectKey.validate(key)
        let response = try await send("DELETE", key: key)
        guard response.status == 204 || response.status == 200 || response.status == 404 else {
            throw ObjectStorageError.service(status: response.status, body: response.text)
        }
    }

    /// Creates the bucket (for development and tests); an existing one of ours is fine.
    public func createBucket() async throws {
        let response = try await send("PUT", key: nil)
        guard response.status == 200 || response.text.contains("BucketAlreadyOwnedByYou") else {
            throw ObjectStorageError.service(status: response.status, body: response.text)
        }
    }

    /// Where `key` lives, and the `Host` to sign, by addressing style.
    func location(of key: String?) -> (url: String, host: String, path: String) {
        let endpoint = configuration.endpoint
        let scheme = endpoint.scheme ?? "https"
        let port = endpoint.port.map { ":\($0)" } ?? ""
        let host = endpoint.host ?? ""
        let encodedKey = key.map { SigV4Signer.encode($0, keepSlash: true) }
        if configuration.pathStyle {
            let path = "/\(configuration.bucket)" + (encodedKey.map { "/\($0)" } ?? "")
            return ("\(scheme)://\(host)\(port)\(path)", host + port, path)
        }
        let path = "/" + (encodedKey ?? "")
        let virtualHost = "\(configuration.bucket).\(host)"
        return ("\(scheme)://\(virtualHost)\(port)\(path)", virtualHost + port, path)
    }

    private struct Answer {
        let status: Int
        let body: Data
        var text: String { String(decoding: body.prefix(2000), as: UTF8.self) }
    }

    private func send(_ method: String, key: String?, headers: [(String, String)] = [], body: Data = Data()) async throws -> Answer {
        let (url, host, path) = location(of: key)
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        var signedHeaders = headers + [("host", host)]
        signedHeaders += signer.sign(method: method, path: path, headers: signedHeaders, payload: body, date: Date())
        for (name, value) in signedHeaders where name != "host" { request.headers.add(name: name, value: value) }
        if !body.isEmpty || method == "PUT" {
            request.headers.add(name: "content-length", value: String(body.count))
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(request, timeout: timeout)
        } catch {
            throw ObjectStorageError.unavailable("\(error)")
        }
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Answer(status: Int(response.status.code), body: Data(bytes.readableBytesView))
    }
}
