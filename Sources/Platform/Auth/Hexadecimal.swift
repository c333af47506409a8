/// Lower-case hexadecimal, two digits a byte, as digests and token hashes are stored.
/// (`String(format: "%02x")` a byte went through Foundation's formatter on every request
/// that hashed a cart token or a key.)
public enum Hexadecimal {
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
