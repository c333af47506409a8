import Foundation
import Testing

@testable import ObjectStorage

/// The signer against the published AWS Signature V4 test suite (`get-vanilla`,
/// `get-vanilla-query-order-key-case`) and an S3 upload signed by botocore.
@Suite struct SigV4SignerTests {
    let suite = SigV4Signer(
        accessKey: "AKIDEXAMPLE",
        secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
        service: "service"
    )
    /// 2015-08-30T12:36:00Z, the suite's request time.
    let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)

    private func authorization(_ headers: [(String, String)]) -> String? {
        headers.first { $0.0 == "Authorization" }?.1
    }

    @Test func getVanilla() {
        let headers = suite.sign(
            method: "GET",
            path: "/",
            headers: [("Host", "example.amazonaws.com")],
            payload: Data(),
            date: suiteDate,
            signPayloadHeader: false
        )
        #expect(headers.first { $0.0 == "x-amz-date" }?.1 == "20150830T123600Z")
        #expect(
            authorization(headers)
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
    }

    @Test func getVanillaQueryOrderKeyCase() {
        let headers = suite.sign(
            method: "GET",
            path: "/",
            query: [("Param2", "value2"), ("Param1", "value1")],
            headers: [("Host", "example.amazonaws.com")],
            payload: Data(),
            date: suiteDate,
            signPayloadHeader: false
        )
        #expect(authorization(headers)?.hasSuffix("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500") == true)
    }

    /// Reference computed with botocore 1.43 (`S3SigV4Auth`) for the same request.
    @Test func anS3UploadSignsItsPayloadAndContentType() {
        let signer = SigV4Signer(accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region: "us-east-1")
        let headers = signer.sign(
            method: "PUT",
            path: "/shop-images/ab/cd%20e.png",
            headers: [("Content-Type", "image/png"), ("host", "127.0.0.1:9000")],
            payload: Data("hello".utf8),
            date: Date(timeIntervalSince1970: 1_795_680_000)
        )
        #expect(headers.first { $0.0 == "x-amz-content-sha256" }?.1 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(
            authorization(headers)
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/s3/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=63258b072edc45954217b2b6cd180090f68f2f126eca175bcdf2aaf7f24a5a5e"
        )
    }

    @Test func uriEncodingKeepsOnlyUnreservedCharacters() {
        #expect(SigV4Signer.encode("a b/c~d*é") == "a%20b%2Fc~d%2A%C3%A9")
        #expect(SigV4Signer.encode("images/ab cd.png", keepSlash: true) == "images/ab%20cd.png")
    }

    @Test func pathAndVirtualHostStylesAddressTheSameObject() throws {
        var configuration = S3Storage.Configuration(
            endpoint: try #require(URL(string: "https://s3.eu-west-1.amazonaws.com")),
            bucket: "shop-images",
            region: "eu-west-1",
            accessKey: "a",
            secretKey: "s",
            pathStyle: true
        )
        let path = S3Storage(configuration).location(of: "products/1/ab.png")
        #expect(path.url == "https://s3.eu-west-1.amazonaws.com/shop-images/products/1/ab.png")
        #expect(path.host == "s3.eu-west-1.amazonaws.com")
        configuration.pathStyle = false
        let virtual = S3Storage(configuration).location(of: "products/1/ab.png")
        #expect(virtual.url == "https://shop-images.s3.eu-west-1.amazonaws.com/products/1/ab.png")
        #expect(virtual.host == "shop-images.s3.eu-west-1.amazonaws.com")
        #expect(virtual.path == "/products/1/ab.png")
        configuration.endpoint = try #require(URL(string: "http://127.0.0.1:9000"))
        configuration.pathStyle = true
        #expect(S3Storage(configuration).location(of: "k").host == "127.0.0.1:9000")
    }
}
