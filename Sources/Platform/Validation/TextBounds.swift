/// Bounds on text a client sends, counted as the contract counts them: in Unicode code
/// points (JSON Schema's `minLength`/`maxLength`), not in user-perceived characters. One
/// user-perceived character may carry any number of combining marks (one was 400 kB), so a
/// bound on those bounds nothing that is stored; a code point is at most four UTF-8 bytes.
public enum TextBounds {
    /// The most UTF-8 bytes `characters` code points take.
    public static func maxBytes(forCharacters characters: Int) -> Int { characters * 4 }

    /// The length of `text` as the contract counts it: code points.
    public static func length(_ text: String) -> Int { text.unicodeScalars.count }

    /// Throws unless `text` has `characters` code points (and so at most
    /// ``maxBytes(forCharacters:)`` UTF-8 bytes, counted first because it is cheaper).
    /// U+0000 is refused everywhere: PostgreSQL cannot store it in text.
    public static func check(_ text: String, characters: ClosedRange<Int>) throws(InvalidValue) {
        let maxBytes = maxBytes(forCharacters: characters.upperBound)
        guard text.utf8.count <= maxBytes, characters.contains(length(text)) else {
            let count =
                characters.lowerBound == 0
                ? "at most \(characters.upperBound) characters" : "\(characters.lowerBound) to \(characters.upperBound) characters"
            throw InvalidValue("Must be \(count) and at most \(maxBytes) bytes")
        }
        guard !text.utf8.contains(0) else { throw InvalidValue("Must not contain U+0000") }
    }

    /// ``check(_:characters:)`` for text shown on one line (a name, an address line, a
    /// tracking number): no control characters at all. With `newlines`, line breaks and
    /// tabs are allowed (a reason written in a form).
    public static func checkLine(_ text: String, characters: ClosedRange<Int>, newlines: Bool = false) throws(InvalidValue) {
        try check(text, characters: characters)
        let control = text.unicodeScalars.contains { scalar in
            guard scalar.properties.generalCategory == .control else { return false }
            return !(newlines && (scalar == "\n" || scalar == "\r" || scalar == "\t"))
        }
        guard !control else { throw InvalidValue("Must not contain control characters") }
    }
}
