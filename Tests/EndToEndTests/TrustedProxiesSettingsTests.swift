import Platform
import Testing

@testable import shop

/// `TRUSTED_PROXIES` takes addresses and CIDR ranges; anything else stops the start, named.
@Suite struct TrustedProxiesSettingsTests {
    @Test func rangesAreReadAndAWrongEntryIsNamed() throws {
        let settings = try Settings(environment: ["TRUSTED_PROXIES": " 10.0.0.0/8, fd00::/8 ,192.0.2.4"], service: .all)
        #expect(settings.guardConfiguration.trustedProxies.contains("10.42.0.7"))
        #expect(settings.guardConfiguration.trustedProxies.contains("fd00::1"))
        #expect(settings.guardConfiguration.trustedProxies.contains("192.0.2.4"))
        #expect(!settings.guardConfiguration.trustedProxies.contains("192.0.2.5"))
        do {
            _ = try Settings(environment: ["TRUSTED_PROXIES": "10.0.0.0/8, 10.0.0.0/40"], service: .all)
            Issue.record("a prefix of 40 bits was accepted")
        } catch {
            #expect("\(error)".hasPrefix("TRUSTED_PROXIES "), "\(error)")
            #expect("\(error)".contains("10.0.0.0/40"), "\(error)")
        }
    }
}
