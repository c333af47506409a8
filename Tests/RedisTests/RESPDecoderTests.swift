import NIOCore
import TestSupport
import Testing

@testable import Redis

@Suite struct RESPDecoderTests {
    private func parseAll(_ text: String) throws -> [RESPValue] {
        var buffer = ByteBuffer(string: text)
        var values: [RESPValue] = []
        while let value = try RESPDecoder.parse(&buffer, depth: 0) { values.append(value) }
        #expect(buffer.readableBytes == 0)
        return values
    }

    @Test func everyReplyTypeIsRead() throws {
        let values = try parseAll("+OK\r\n-ERR wrong\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n:1\r\n$0\r\n\r\n*-1\r\n")
        #expect(
            values == [
                .simpleString("OK"), .error("ERR wrong"), .integer(42), .bulkString(ByteBuffer(string: "hello")),
                .bulkString(nil), .array([.integer(1), .bulkString(ByteBuffer())]), .array(nil),
            ]
        )
    }

    @Test func aReplySplitAtAnyByteWaitsForTheRest() throws {
        let whole = "*3\r\n$3\r\nfoo\r\n*1\r\n:-7\r\n+bar\r\n"
        for cut in 1..<whole.utf8.count {
            var buffer = ByteBuffer(bytes: Array(whole.utf8.prefix(cut)))
            let before = buffer.readableBytes
            if let value = try RESPDecoder.parse(&buffer, depth: 0) {
                Issue.record("parsed \(value) from \(cut) bytes")
            }
            #expect(buffer.readableBytes == before, "consumed bytes of an incomplete reply")
        }
        #expect(try parseAll(whole) == [.array([.bulkString(ByteBuffer(string: "foo")), .array([.integer(-7)]), .simpleString("bar")])])
    }

    @Test func bulkStringsMayHoldCarriageReturnsAndBinary() throws {
        #expect(try parseAll("$4\r\na\r\nb\r\n") == [.bulkString(ByteBuffer(string: "a\r\nb"))])
    }

    @Test func garbageIsAProtocolError() {
        #expect(throws: RedisError.self) { try parseAll("?what\r\n") }
        #expect(throws: RedisError.self) { try parseAll(":notanumber\r\n") }
        #expect(throws: RedisError.self) { try parseAll("$3\r\nabcXY") }
        #expect(throws: RedisError.self) { try parseAll(String(repeating: "*1\r\n", count: 40) + ":1\r\n") }
    }

    @Test func hugeAnnouncedLengthsAreRefusedNotTrapped() {
        // Int.max + 2 overflowed in the bounds check and crashed the process.
        for length in ["\(Int.max)", "\(Int.max - 1)", "536870913", "99999999999999999999999", "-2"] {
            #expect(throws: RedisError.self) { try parseAll("$\(length)\r\nabc\r\n") }
            #expect(throws: RedisError.self) { try parseAll("*\(length)\r\n:1\r\n") }
        }
    }

    @Test func randomBytesNeverTrapTheDecoder() throws {
        // A fixed-seed fuzz over RESP-shaped junk: every input parses, asks for more, or
        // throws RedisError; anything else (a trap) ends the test process.
        var random = SplitMix64(seed: 0x5E55_10C4)
        let pieces = [
            "*", "$", ":", "+", "-", "\r\n", "\r", "\n", "0", "1", "-1", "9", "\(Int.max)", "\(Int.min)",
            "18446744073709551616", "x", "OK", " ", "*3", "$5",
        ]
        var outcomes = (parsed: 0, needMore: 0, refused: 0)
        for _ in 0..<20_000 {
            var text = ""
            for _ in 0..<Int(random.next() % 12) { text += pieces[Int(random.next() % UInt64(pieces.count))] }
            var buffer = ByteBuffer(string: text)
            do {
                if try RESPDecoder.parse(&buffer, depth: 0) != nil { outcomes.parsed += 1 } else { outcomes.needMore += 1 }
            } catch is RedisError {
                outcomes.refused += 1
            }
        }
        #expect(outcomes.parsed > 0 && outcomes.needMore > 0 && outcomes.refused > 0)
    }

    @Test func commandsAreWrittenAsArraysOfBulkStrings() {
        var buffer = ByteBuffer()
        RESPEncoder.encode(["SET", "k€y", RESPArgument(12)], into: &buffer)
        #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$5\r\nk€y\r\n$2\r\n12\r\n")
    }

    @Test func urlsAreParsed() throws {
        let url = try RedisURL("redis://user:p%40ss@cache.local:6380/2")
        #expect(url == RedisURL(host: "cache.local", port: 6380, username: "user", password: "p@ss", database: 2))
        #expect(try RedisURL("redis://127.0.0.1") == RedisURL(host: "127.0.0.1"))
        #expect(throws: RedisURLError.self) { try RedisURL("http://x") }
        #expect(throws: RedisURLError.self) { try RedisURL("redis://x/99") }
    }
}

/// A small deterministic generator, so a failing fuzz case can be replayed.
