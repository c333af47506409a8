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
    public static func check(_ text: String, characters: ClosedRange<Int>) throws(InvalidValue) {
        let maxBytes = maxBytes(forCharacters: characters.upperBound)
        guard text.utf8.count <= maxBytes, characters.contains(length(text)) else {
            let count =
                characters.lowerBound == 0
                ? "at most \(characters.upperBound) characters" : "\(characters.lowerBound) to \(characters.upperBound) characters"
            throw InvalidValue("Must be \(count) and at most \(maxBytes) bytes")
        }
    }
}
