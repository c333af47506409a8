/// Percent-encoding as RFC 3986 defines it: every byte outside the unreserved set
/// (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`. What comes out is safe in a query, a path
/// segment and an `application/x-www-form-urlencoded` body alike (a form decoder reads
/// `%20` as well as `+`), so one encoder serves links, Stripe's and Twilio's forms and
/// OAuth token requests.
public enum PercentEncoding {
    public static func encoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
