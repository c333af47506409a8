public import Foundation

extension UUID {
    /// A random (version 4) UUID from the standard library's generator, which asks the
    /// kernel with one `getrandom` call. Foundation's `UUID()` on Linux opens, reads and
    /// closes `/dev/urandom` for each one: three system calls on every event written.
    public static func random() -> UUID {
        var generator = SystemRandomNumberGenerator()
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &value) { bytes in
            bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: 0, as: UInt64.self)
            bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: 8, as: UInt64.self)
            bytes[6] = (bytes[6] & 0x0F) | 0x40  // version 4
            bytes[8] = (bytes[8] & 0x3F) | 0x80  // the RFC 9562 variant
        }
        return UUID(uuid: value)
    }
}

extension UUID {
    /// A version 7 UUID (RFC 9562): the time in milliseconds, then 74 random bits, so ids
    /// made later sort later and the rows they key are added at the end of an index
    /// rather than on a random page of it. For event ids, which every consumer records.
    public static func timeOrdered(at now: Date = Date()) -> UUID {
        var generator = SystemRandomNumberGenerator()
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &value) { bytes in
            bytes.storeBytes(of: (milliseconds << 16 | (generator.next() as UInt64) & 0xFFFF).bigEndian, toByteOffset: 0, as: UInt64.self)
            bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: 8, as: UInt64.self)
            bytes[6] = (bytes[6] & 0x0F) | 0x70  // version 7
            bytes[8] = (bytes[8] & 0x3F) | 0x80  // the RFC 9562 variant
        }
        return UUID(uuid: value)
    }
}
