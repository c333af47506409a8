#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address, and which special-purpose range it falls in, if any.
///
/// A webhook may only go to an address the public internet can reach: ``nonPublicRange``
/// names the range (loopback, private, link-local...) of any other, IPv4 addresses
/// embedded in IPv6 ones (mapped, NAT64, 6to4) included.
struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// Four bytes for IPv4, sixteen for IPv6, in network order.
    let bytes: [UInt8]

    init(ipv4 value: UInt32) {
        bytes = [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
    }

    /// The address written as IPv4 dotted decimal (`93.184.216.34`) or IPv6 (`2001:db8::1`,
    /// without brackets or zone), or nil.
    init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            return nil
        }
    }

    init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    var isIPv4: Bool { bytes.count == 4 }

    /// The canonical text: dotted decimal, or RFC 5952 IPv6.
    var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let written = text.withUnsafeMutableBufferPointer { buffer in
            inet_ntop(AF_INET6, &address, buffer.baseAddress, socklen_t(buffer.count)) != nil
        }
        guard written else { return bytes.map { String($0, radix: 16) }.joined(separator: ":") }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The name of the special-purpose range holding this address, or nil when it is a
    /// public unicast address.
    var nonPublicRange: String? {
        if isIPv4 {
            return Self.ipv4Ranges.first { hasPrefix($0.prefix, length: $0.length) }?.name
        }
        for range in Self.ipv4Embedding where hasPrefix(range.prefix, length: range.length) {
            let embedded = IPAddress(bytes: Array(bytes[range.offset..<range.offset + 4]))
            return embedded?.nonPublicRange.map { "\(range.name) \($0)" }
        }
        return Self.ipv6Ranges.first { hasPrefix($0.prefix, length: $0.length) }?.name
    }

    private func hasPrefix(_ prefix: [UInt8], length: Int) -> Bool {
        var remaining = length
        for (index, byte) in prefix.enumerated() where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            guard bytes[index] & mask == byte & mask else { return false }
            remaining -= bits
        }
        return true
    }

    // IANA's special-purpose registries, narrowed to what must never receive a webhook.
    private static let ipv4Ranges: [(prefix: [UInt8], length: Int, name: String)] = [
        ([0], 8, "unspecified ('this network')"),
        ([10], 8, "private"),
        ([100, 64], 10, "shared (carrier-grade NAT)"),
        ([127], 8, "loopback"),
        ([169, 254], 16, "link-local (cloud metadata lives there)"),
        ([172, 16], 12, "private"),
        ([192, 0, 0], 24, "IETF protocol assignments"),
        ([192, 0, 2], 24, "documentation"),
        ([192, 88, 99], 24, "6to4 relay anycast"),
        ([192, 168], 16, "private"),
        ([198, 18], 15, "benchmarking"),
        ([198, 51, 100], 24, "documentation"),
        ([203, 0, 113], 24, "documentation"),
        ([224], 4, "multicast"),
        ([240], 4, "reserved (or broadcast)"),
    ]

    /// IPv6 ranges that carry an IPv4 address, judged by that address.
    private static let ipv4Embedding: [(prefix: [UInt8], length: Int, offset: Int, name: String)] = [
        ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 96, 12, "IPv4-mapped"),
        ([0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96, 12, "NAT64"),
        ([0x20, 0x02], 16, 2, "6to4"),
    ]

    private static let ipv6Ranges: [(prefix: [UInt8], length: Int, name: String)] = [
        (Array(repeating: 0, count: 16), 128, "unspecified"),
        (Array(repeating: 0, count: 15) + [1], 128, "loopback"),
        (Array(repeating: 0, count: 12), 96, "IPv4-compatible (deprecated)"),
        ([0, 0x64, 0xff, 0x9b, 0, 1], 48, "local-use NAT64"),
        ([1, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
        ([0x20, 0x01, 0, 0], 32, "Teredo tunnel"),
        ([0x20, 0x01, 0x0d, 0xb8], 32, "documentation"),
        ([0xfc], 7, "private (unique local)"),
        ([0xfe, 0x80], 10, "link-local"),
        ([0xfe, 0xc0], 10, "site-local (deprecated)"),
        ([0xff], 8, "multicast"),
    ]
}

extension IPAddress {
    /// How a host name that ends in a number reads as IPv4, as `inet_aton` and URL parsers
    /// read it.
    enum NumericHost: Equatable {
        /// The host is a name, not a number.
        case name
        /// It looks like a number but is no valid address (`1.2.3.4.5`, `256.1.1.1`).
        case invalid
        /// The IPv4 address it denotes, however spelled (`127.1`, `0x7f.1`, `2130706433`).
        case address(IPAddress)
    }

    /// Reads `host` the lenient way (`inet_aton`, the WHATWG URL standard): one to four
    /// dot-separated parts, each decimal, octal (leading `0`) or hexadecimal (`0x`); the last
    /// part fills the bytes left.
    static func numericHost(_ host: String) -> NumericHost {
        var labels = host.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count > 1, labels.last?.isEmpty == true { labels.removeLast() }
        guard let last = labels.last, number(last) != nil || last.allSatisfy(isDigit) && !last.isEmpty else {
            return .name
        }
        guard labels.count <= 4 else { return .invalid }
        var parts: [UInt64] = []
        for label in labels {
            guard let part = number(label) else { return .invalid }
            parts.append(part)
        }
        let leading = parts.dropLast()
        guard leading.allSatisfy({ $0 <= 255 }) else { return .invalid }
        let lastBits = 8 * (5 - parts.count)
        guard parts[parts.count - 1] < (UInt64(1) << lastBits) else { return .invalid }
        var value = parts[parts.count - 1]
        for (index, part) in leading.enumerated() { value |= part << (8 * (3 - index)) }
        return .address(IPAddress(ipv4: UInt32(value)))
    }

    private static func number(_ label: Substring) -> UInt64? {
        guard !label.isEmpty, label.count <= 12 else { return nil }
        if label.hasPrefix("0x") || label.hasPrefix("0X") {
            let digits = label.dropFirst(2)
            return digits.isEmpty ? 0 : UInt64(digits, radix: 16)
        }
        guard label.allSatisfy(isDigit) else { return nil }
        if label.count > 1, label.hasPrefix("0") { return UInt64(label.dropFirst(), radix: 8) }
        return UInt64(label)
    }

    private static func isDigit(_ character: Character) -> Bool { ("0"..."9").contains(character) }
}
