import Foundation
import Testing

@testable import ProductService

/// Recognising uploads by their bytes.
@Suite struct ImageTests {
    /// A real 2×3 PNG (IHDR, IDAT, IEND).
    static let png = [UInt8](
        Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAIAAAADCAIAAAA2iEnWAAAAEElEQVR4nGP4z8AARAwoFABE0AX7pM/egAAAAABJRU5ErkJggg==")!
    )

    /// SOI, a JFIF APP0 segment, then a baseline start-of-frame for 640×480.
    static let jpeg: [UInt8] =
        [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10] + Array("JFIF".utf8) + [0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]
        + [0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0xE0, 0x02, 0x80, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]
        + [0xFF, 0xD9]

    static func riff(_ chunk: String, _ payload: [UInt8]) -> [UInt8] {
        let size = UInt32(payload.count)
        let body = Array(chunk.utf8) + withUnsafeBytes(of: size.littleEndian, Array.init) + payload
        return Array("RIFF".utf8) + withUnsafeBytes(of: UInt32(body.count + 4).littleEndian, Array.init) + Array("WEBP".utf8) + body
    }

    @Test func formatsAndSizesAreReadFromTheBytes() throws {
        #expect(ImageInfo(sniffing: Self.png) == ImageInfo(format: .png, width: 2, height: 3))
        #expect(ImageInfo(sniffing: Self.jpeg) == ImageInfo(format: .jpeg, width: 640, height: 480))
        // Extended WebP: canvas width and height minus one, 24 bits each.
        let extended = Self.riff("VP8X", [0x10, 0, 0, 0, 0x1F, 0x03, 0x00, 0xDF, 0x01, 0x00])
        #expect(ImageInfo(sniffing: extended) == ImageInfo(format: .webp, width: 800, height: 480))
        // Lossless WebP: signature 0x2F, then 14 bits each of width and height minus one.
        let bits: UInt32 = (99) | (49 << 14)
        let lossless = Self.riff("VP8L", [0x2F] + withUnsafeBytes(of: bits.littleEndian, Array.init) + [0, 0, 0, 0, 0])
        #expect(ImageInfo(sniffing: lossless) == ImageInfo(format: .webp, width: 100, height: 50))
        // Lossy WebP: a key frame's start code, then 14-bit width and height.
        let lossy = Self.riff("VP8 ", [0, 0, 0, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xF0, 0x00, 0, 0])
        #expect(ImageInfo(sniffing: lossy) == ImageInfo(format: .webp, width: 320, height: 240))
    }

    @Test func magicBytesAloneOrOtherFilesAreRefused() {
        #expect(ImageInfo(sniffing: Array(Self.png.prefix(8))) == nil, "a PNG signature without its header")
        #expect(ImageInfo(sniffing: [0xFF, 0xD8, 0xFF, 0xE0, 0x00]) == nil, "a JPEG start without a frame")
        #expect(ImageInfo(sniffing: Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8)) == nil)
        #expect(ImageInfo(sniffing: Array("GIF89a".utf8) + [UInt8](repeating: 0, count: 40)) == nil)
        #expect(ImageInfo(sniffing: Array("<svg xmlns='http://www.w3.org/2000/svg'/>".utf8)) == nil)
        #expect(ImageInfo(sniffing: []) == nil)
        // A header claiming a 100,000-pixel side: a decompression bomb.
        var huge = Self.png
        huge[16...19] = [0x00, 0x01, 0x86, 0xA0]
        #expect(ImageInfo(sniffing: huge) == nil)
    }
}
