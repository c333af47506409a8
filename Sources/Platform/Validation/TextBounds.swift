/// Bounds on text a client sends: in characters, as people count them, and in UTF-8
/// bytes, as storage does. One character may carry any number of combining marks (one
/// was 400 kB), so a bound in characters alone bounds nothing that is stored.
public enum TextBounds {
    /// The bytes allowed for `characters` characters: four each, the most a scalar takes,
    /// so ordinary text in any script fits and a tower of combining marks does not.
    public static func maxBytes(forCharacters characters: Int) -> Int { characters * 4 }

    /// Throws unless `text` has `characters` characters and at most
    /// ``maxBytes(forCharacters:)`` UTF-8 bytes. Bytes are counted first: counting
    /// characters walks the whole text.
    public static func check(_ text: String, characters: ClosedRange<Int>) throws(InvalidValue) {
        let maxBytes = maxBytes(forCharacters: characters.upperBound)
        guard text.utf8.count <= maxBytes, characters.contains(text.count) else {
            let count = characters.lowerBound == 0
                ? "at most \(characters.upperBound) characters" : "\(characters.lowerBound) to \(characters.upperBound) characters"
            throw InvalidValue("Must be \(count) and at most \(maxBytes) bytes")
        }
    }
}
