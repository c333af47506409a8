import Foundation

/// A rendered message read back the way a mail program reads it (unfolded headers, RFC 2047
/// words decoded, MIME parts split and quoted-printable decoded), so tests can say what a
/// reader sees rather than which bytes were written.
struct ParsedMail {
    /// Unfolded, still encoded.
    let headers: [(name: String, value: String)]
    /// The text parts, content type and decoded text (line ends as "\n").
    let parts: [(type: String, text: String)]
    let boundary: String?

    init(_ raw: String) {
        let separator = raw.range(of: "\r\n\r\n")!
        let headerText = raw[..<separator.lowerBound].replacingOccurrences(of: "\r\n ", with: " ")
        headers = headerText.components(separatedBy: "\r\n").map { line in
            let colon = line.firstIndex(of: ":")!
            return (String(line[..<colon]), String(line[line.index(after: colon)...].dropFirst()))
        }
        let body = String(raw[separator.upperBound...])
        let contentType = headers.first { $0.name.lowercased() == "content-type" }?.value ?? ""
        if let range = contentType.range(of: "boundary=\"") {
            let boundary = String(contentType[range.upperBound...].prefix { $0 != "\"" })
            self.boundary = boundary
            let sections = body.components(separatedBy: "--" + boundary)
            parts = sections.dropFirst().dropLast().map { section in
                let section = section.hasPrefix("\r\n") ? String(section.dropFirst()) : section
                let split = section.range(of: "\r\n\r\n")!
                let type = section[..<split.lowerBound].components(separatedBy: "\r\n").first { $0.hasPrefix("Content-Type:") } ?? ""
                var content = String(section[split.upperBound...])
                // The CRLF before a boundary belongs to the boundary (RFC 2046 5.1.1); it
                // is one Character in Swift.
                if content.hasSuffix("\r\n") { content.removeLast() }
                return (Self.mediaType(type), Self.decodeQuotedPrintable(content))
            }
        } else {
            boundary = nil
            var content = body
            if content.hasSuffix("\r\n") { content.removeLast() }
            parts = [(Self.mediaType(contentType), Self.decodeQuotedPrintable(content))]
        }
    }

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The header with its encoded-words decoded; `nil` if missing or not valid UTF-8.
    func decodedHeader(_ name: String) -> String? {
        header(name).flatMap(Self.decodeEncodedWords)
    }

    private static func mediaType(_ contentType: String) -> String {
        let value = contentType.hasPrefix("Content-Type:") ? String(contentType.dropFirst("Content-Type:".count)) : contentType
        return value.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
    }

    /// Encoded-words decoded, the whitespace between two of them dropped (RFC 2047 6.2).
    static func decodeEncodedWords(_ value: String) -> String? {
        var output = ""
        var previousWasEncoded = false
        for (index, token) in value.components(separatedBy: " ").enumerated() {
            let isEncoded = token.lowercased().hasPrefix("=?utf-8?b?") && token.hasSuffix("?=")
            if index > 0 && !(isEncoded && previousWasEncoded) { output += " " }
            if isEncoded {
                guard let data = Data(base64Encoded: String(token.dropFirst(10).dropLast(2))),
                    let text = String(data: data, encoding: .utf8)
                else { return nil }
                output += text
            } else {
                output += token
            }
            previousWasEncoded = isEncoded
        }
        return output
    }

    static func decodeQuotedPrintable(_ text: String) -> String {
        var bytes: [UInt8] = []
        let input = Array(text.replacingOccurrences(of: "=\r\n", with: "").utf8)
        var index = 0
        while index < input.count {
            if input[index] == UInt8(ascii: "="), index + 2 < input.count,
                let byte = UInt8(String(decoding: input[(index + 1)...(index + 2)], as: UTF8.self), radix: 16)
            {
                bytes.append(byte)
                index += 3
            } else {
                bytes.append(input[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
    }
}
