import Foundation

/// The encodings that keep a message 7-bit clean and its lines short: RFC 2047 encoded-words
/// for header text, quoted-printable (RFC 2045) for bodies, and header folding (RFC 5322).
///
/// Everything here produces ASCII only, so a message built with it never needs 8BITMIME or
/// SMTPUTF8 from the server, and no line exceeds 78 characters unless a single token does.
enum MIMEEncoding {
    /// The line length RFC 5322 asks writers to stay under.
    static let preferredLineLength = 78
    /// The line length no message may exceed (RFC 5322 2.1.1).
    static let maximumLineLength = 998

    // MARK: Header folding

    /// `name: value`, folded at the value's spaces so lines stay within 78 characters where
    /// a space allows it; unfolding (removing each CRLF) gives the value back unchanged.
    static func foldedHeader(_ name: String, _ value: String) -> String {
        var output = name + ":"
        var lineLength = output.utf8.count
        // Only single spaces are folding points; an empty word (a run of spaces) is never
        // put at the start of a continuation line, which would leave it blank.
        for (index, word) in value.split(separator: " ", omittingEmptySubsequences: false).enumerated() {
            let length = word.utf8.count
            if index > 0, !word.isEmpty, lineLength + 1 + length > preferredLineLength {
                output += "\r\n " + word
                lineLength = 1 + length
            } else {
                output += " " + word
                lineLength += 1 + length
            }
        }
        return output
    }

    // MARK: RFC 2047

    /// Whether `text` can stand in a header as it is: printable ASCII only, nothing that a
    /// reader would take for an encoded-word, and no word too long to fold.
    static func isPlainHeaderText(_ text: String, longestWord: Int) -> Bool {
        guard text.utf8.allSatisfy({ (0x20...0x7E).contains($0) }), !text.contains("=?") else { return false }
        return text.split(separator: " ").allSatisfy { $0.utf8.count <= longestWord }
    }

    /// `text` as UTF-8 "B" encoded-words separated by spaces, each at most 75 characters
    /// and the first short enough to follow `firstLineUsed` characters on a 78-character line.
    ///
    /// Words break only between characters (never inside a UTF-8 sequence or a grapheme
    /// cluster, unless one cluster alone is too long), as RFC 2047 section 5 requires.
    static func encodedWords(_ text: String, firstLineUsed: Int) -> [String] {
        let wrapper = "=?utf-8?B??=".utf8.count
        // Base64 makes 4 characters of 3 bytes: the bytes that fit in `room` characters.
        func capacity(_ room: Int) -> Int { max(3, (min(room, 75) - wrapper) / 4 * 3) }
        var words: [String] = []
        var chunk: [UInt8] = []
        var limit = capacity(preferredLineLength - firstLineUsed - 1)
        func flush() {
            guard !chunk.isEmpty else { return }
            words.append("=?utf-8?B?" + Data(chunk).base64EncodedString() + "?=")
            chunk = []
            // Later words start a continuation line after its one space.
            limit = capacity(preferredLineLength - 1)
        }
        for character in text {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > limit { flush() }
            if bytes.count > limit {
                // A single cluster longer than a word (long emoji sequences): split it by
                // scalars, which is still whole characters to a decoder.
                for scalar in String(character).unicodeScalars {
                    let scalarBytes = Array(String(scalar).utf8)
                    if chunk.count + scalarBytes.count > limit { flush() }
                    chunk += scalarBytes
                }
            } else {
                chunk += bytes
            }
        }
        flush()
        return words
    }

    // MARK: Quoted-printable

    /// `text` in quoted-printable with CRLF line ends: every line break of the text (LF, CR
    /// or CRLF) becomes CRLF, and no encoded line is longer than 76 characters.
    ///
    /// The output never contains "=_", so a MIME boundary starting with it cannot occur in it.
    static func quotedPrintable(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + bytes.count / 8)
        var lineStart = 0
        var index = 0
        while true {
            guard index < bytes.count else {
                appendQuotedPrintableLine(bytes[lineStart...], to: &output)
                break
            }
            let byte = bytes[index]
            guard byte == 0x0A || byte == 0x0D else {
                index += 1
                continue
            }
            appendQuotedPrintableLine(bytes[lineStart..<index], to: &output)
            output.append(0x0D)
            output.append(0x0A)
            // CRLF is one line break, as is a CR or an LF alone.
            index += byte == 0x0D && index + 1 < bytes.count && bytes[index + 1] == 0x0A ? 2 : 1
            lineStart = index
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func appendQuotedPrintableLine(_ line: ArraySlice<UInt8>, to output: inout [UInt8]) {
        var lineLength = 0
        for index in line.indices {
            let byte = line[index]
            let isLast = index == line.endIndex - 1
            // Spaces and tabs at the end of a line are removed by some transports: encode them.
            let literal = (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "=")) || ((byte == 0x20 || byte == 0x09) && !isLast)
            let width = literal ? 1 : 3
            // 76 characters at most, including the "=" of a soft line break, unless this
            // character ends the line and then needs no soft break after it.
            let room = isLast ? 76 : 75
            if lineLength + width > room {
                output.append(UInt8(ascii: "="))
                output.append(0x0D)
                output.append(0x0A)
                lineLength = 0
            }
            if literal {
                output.append(byte)
            } else {
                output.append(UInt8(ascii: "="))
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0x0F)])
            }
            lineLength += width
        }
    }
}
