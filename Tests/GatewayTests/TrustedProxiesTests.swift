import Platform
import Testing

@testable import Gateway

/// Trusted proxies by address or CIDR range, IPv4 and IPv6.
@Suite struct TrustedProxiesTests {
    @Test func rangesAndAddressesMatchWhatTheyCover() throws {
        let proxies = try TrustedProxies(["10.0.0.0/8", "192.168.1.7", "172.16.0.0/12", "fd00::/8", "2001:db8::1", "0.0.0.0/0"].dropLast())
        for inside in ["10.0.0.1", "10.255.255.255", "192.168.1.7", "172.16.0.1", "172.31.255.254", "fd12:3456::1", "2001:db8::1", "::ffff:10.1.2.3"]
        {
            #expect(proxies.contains(inside), "\(inside)")
        }
        for outside in ["11.0.0.1", "192.168.1.8", "172.32.0.1", "fe80::1", "2001:db8::2", "", "junk", "10.0.0.1/8", "::ffff:11.0.0.1"] {
            #expect(!proxies.contains(outside), "\(outside)")
        }
        #expect(try TrustedProxies(["0.0.0.0/0"]).contains("203.0.113.9"))
        #expect(try !TrustedProxies(["0.0.0.0/0"]).contains("2001:db8::2"), "an IPv4 range covers no IPv6 address")
        #expect(try TrustedProxies(["10.1.2.3/31"]).contains("10.1.2.2"))
        #expect(try !TrustedProxies(["10.1.2.3/31"]).contains("10.1.2.4"))
        #expect(!TrustedProxies.none.contains("127.0.0.1"))
    }

    @Test(arguments: [
        "10.0.0.0/33", "fd00::/129", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/8/8", "10.0.0", "host.example", "10.0.0.0/٨", "::/x", "10.0.0.0/+8",
        "10.0.0.0/ 8",
    ])
    func entriesThatAreNoAddressOrRangeAreRefused(_ entry: String) {
        #expect(throws: InvalidValue.self) { try TrustedProxies([entry]) }
    }

    /// A hop of `X-Forwarded-For` inside a trusted range is skipped like a listed proxy.
    @Test func theClientIsTheFirstHopOutsideTheRanges() throws {
        let proxies = try TrustedProxies(["10.0.0.0/8"])
        #expect(ClientAddress.resolve(peer: "10.9.0.1", forwardedFor: ["198.51.100.7, 10.3.0.2"], trustedProxies: proxies) == "198.51.100.7")
        #expect(ClientAddress.resolve(peer: "203.0.113.9", forwardedFor: ["198.51.100.7"], trustedProxies: proxies) == "203.0.113.9")
    }
}
