/// One reply of an SMTP server (RFC 5321 4.2): a three-digit code and one or more lines of
/// text, the lines before the last sent as `250-...`.
struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    let code: Int
    /// The text of each line, without the code and its separator.
    let lines: [String]

    /// 2xx: done.
    var isSuccess: Bool { (200..<300).contains(code) }
    /// 4xx: not now; the same command may work later.
    var isTransientFailure: Bool { (400..<500).contains(code) }

    /// The reply as the delivery log shows it: `250 2.0.0 Ok: queued as 12345`, several
    /// lines joined with "; ".
    var description: String {
        let text = lines.filter { !$0.isEmpty }.joined(separator: "; ")
        return text.isEmpty ? String(code) : "\(code) \(text)"
    }

    /// One line of a reply: its code, whether more lines follow, and its text; `nil` when
    /// the line is not a reply line at all.
    static func parseLine(_ line: String) -> (code: Int, isLast: Bool, text: String)? {
        let bytes = Array(line.utf8)
        guard bytes.count >= 3, let code = Int(String(decoding: bytes[0..<3], as: UTF8.self)), (200...599).contains(code) else {
            return nil
        }
        if bytes.count == 3 { return (code, true, "") }
        switch bytes[3] {
        case UInt8(ascii: " "): return (code, true, String(decoding: bytes[4...], as: UTF8.self))
        case UInt8(ascii: "-"): return (code, false, String(decoding: bytes[4...], as: UTF8.self))
        default: return nil
        }
    }
}
