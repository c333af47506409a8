import Crypto
import NIOCore
import Platform

/// An encoded answer with a hole where each product's live stock goes.
///
/// The cache keeps catalog reads as the bytes that are sent, but stock moves with every
/// sale and is never served from it: the answer is encoded once with a placeholder for
/// each `available`, split there, and every hit joins the pieces with the counts read
/// now. A hit never decodes a page to encode it again.
struct StockTemplate: Sendable, Hashable {
    /// What stands in for a count while the answer is encoded; no count is ever this.
    static let placeholder = -7_346_193_861_550_411_337
    /// The placeholder as the encoder writes it. A quote inside a string value is always
    /// escaped, so these bytes can only be the member itself.
    static let marker = Array("\"available\":-7346193861550411337".utf8)
    static let prefix = Array("\"available\":".utf8)

    /// The bytes around the holes: one more than there are products.
    let pieces: [[UInt8]]
    /// The product whose count fills each hole, in order.
    let productIDs: [Int64]

    /// Splits `encoded` at each placeholder; nil unless there is exactly one per product.
    init?(encoded: [UInt8], productIDs: [Int64]) {
        var pieces: [[UInt8]] = []
        var start = 0
        var index = 0
        let marker = Self.marker
        while index + marker.count <= encoded.count {
            if encoded[index] == marker[0], encoded[index..<index + marker.count].elementsEqual(marker) {
                pieces.append(Array(encoded[start..<index]))
                index += marker.count
                start = index
            } else {
                index += 1
            }
        }
        pieces.append(Array(encoded[start...]))
        guard pieces.count == productIDs.count + 1 else { return nil }
        self.pieces = pieces
        self.productIDs = productIDs
        var hasher = SHA256()
        for (index, piece) in pieces.enumerated() {
            hasher.update(data: piece)
            if index < productIDs.count { hasher.update(data: Self.marker) }
        }
        self.digest = Array(hasher.finalize())
    }

    /// A SHA-256 of the answer with its placeholders, made once: with the counts, what the
    /// answer's `ETag` is made from, so a hit hashes a few numbers instead of the whole page.
    let digest: [UInt8]

    /// A strong `ETag` of ``filled(with:)``'s answer: it changes with the page and with any
    /// of its counts, and is the same on every instance for the same answer.
    func etag(with available: [Int64: Int]) -> String {
        var hasher = SHA256()
        hasher.update(data: digest)
        var counts = ""
        for id in productIDs { counts += "\(available[id] ?? 0)," }
        hasher.update(data: Array(counts.utf8))
        return "\"" + Hexadecimal.encode(hasher.finalize().prefix(16)) + "\""
    }

    /// The answer with each product's count (0 for one without a level).
    func filled(with available: [Int64: Int]) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: bytes + productIDs.count * 24)
        for (index, piece) in pieces.enumerated() {
            buffer.writeBytes(piece)
            guard index < productIDs.count else { break }
            buffer.writeBytes(Self.prefix)
            buffer.writeString(String(available[productIDs[index]] ?? 0))
        }
        return buffer
    }

    /// The bytes it holds.
    var bytes: Int { pieces.reduce(0) { $0 + $1.count } }

    /// The form kept in a shared cache: the product ids on the first line, then the answer
    /// with its placeholders.
    var text: String {
        var joined: [UInt8] = []
        joined.reserveCapacity(bytes + productIDs.count * Self.marker.count)
        for (index, piece) in pieces.enumerated() {
            joined += piece
            if index < productIDs.count { joined += Self.marker }
        }
        return productIDs.map(String.init).joined(separator: ",") + "\n" + String(decoding: joined, as: UTF8.self)
    }

    /// Reads ``text`` back; nil for anything else.
    init?(text: Substring) {
        guard let newline = text.firstIndex(of: "\n") else { return nil }
        let header = text[..<newline]
        let ids = header.isEmpty ? [] : header.split(separator: ",").map { Int64($0) }
        guard ids.allSatisfy({ $0 != nil }) else { return nil }
        self.init(encoded: Array(text[text.index(after: newline)...].utf8), productIDs: ids.compactMap { $0 })
    }
}
