import Foundation

/// RFC 3339 timestamps in UTC (`2026-11-25T10:15:00Z`), formatted without a date
/// formatter: the response encoder calls this for every timestamp it writes.
public enum RFC3339 {
    public static func string(from date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var bytes = [UInt8](repeating: 0, count: 20)
        func put(_ value: Int32, _ width: Int, at offset: Int) {
            var value = value
            for index in stride(from: offset + width - 1, through: offset, by: -1) {
                bytes[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(parts.tm_year + 1900, 4, at: 0)
        bytes[4] = UInt8(ascii: "-")
        put(parts.tm_mon + 1, 2, at: 5)
        bytes[7] = UInt8(ascii: "-")
        put(parts.tm_mday, 2, at: 8)
        bytes[10] = UInt8(ascii: "T")
        put(parts.tm_hour, 2, at: 11)
        bytes[13] = UInt8(ascii: ":")
        put(parts.tm_min, 2, at: 14)
        bytes[16] = UInt8(ascii: ":")
        put(parts.tm_sec, 2, at: 17)
        bytes[19] = UInt8(ascii: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }
}
