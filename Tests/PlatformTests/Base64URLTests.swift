import Foundation
import Platform
import Testing

/// Base64url as RFC 4648 §5 gives it, unpadded, checked against Foundation's base64.
@Suite struct Base64URLTests {
    @Test func encodesAndDecodesEveryLengthLikeFoundationsBase64() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let expected = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(Base64URL.encode(bytes) == expected)
            #expect(Base64URL.decode(expected) == Data(bytes))
        }
        // RFC 4648's test vectors, unpadded.
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
            #expect(Base64URL.decode(encoded) == Data(plain.utf8))
        }
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
    }

    @Test func refusesAnythingNotCanonical() {
        for bad in ["Zg==", "Zm9v+", "Zm9v/", "Z", "Zm9vY", "Zh", "Zm9", "Zm:v", "Zm9v\n", "Zm 9v", "é"] {
            #expect(Base64URL.decode(bad) == nil, "\(bad)")
        }
        // "Zm8" is "fo"; "Zm9" carries a stray bit in its last character.
        #expect(Base64URL.decode("Zm8") == Data("fo".utf8))
    }
}
