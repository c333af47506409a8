import Testing

@testable import NotificationService

@Suite struct WebhookAddressPolicyTests {
    static let production = WebhookAddressPolicy.production

    /// A policy whose every host name resolves to `addresses`.
    static func resolving(_ addresses: [String]) -> WebhookAddressPolicy {
        let resolved = addresses.compactMap(IPAddress.init)
        return WebhookAddressPolicy(allowsPrivateNetworks: false, allowsInsecureHTTP: false) { _ in resolved }
    }

    static func reason(_ url: String, under policy: WebhookAddressPolicy = production) async -> WebhookAddressError.Reason? {
        do {
            _ = try await policy.check(url)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test(arguments: [
        "https://2130706433/",  // decimal
        "https://0177.0.0.1/",  // octal
        "https://0x7f.1/",  // hexadecimal, short
        "https://0x7f000001/",
        "https://127.1/",  // short
        "https://127.0.1/",
        "https://017700000001/",
        "https://0x7F.0.0.1/",
        "https://127.0.0.1./",  // trailing dot
        "https://0xa9.0xfe.0xa9.0xfe/",  // 169.254.169.254
        "https://1572395042/",  // 93.184.216.34: public, but spelled so that parsers disagree
    ])
    func anUnusualSpellingOfAnIPv4AddressIsRefused(url: String) async {
        #expect(await Self.reason(url) == .unusualIPv4Spelling)
        #expect(await Self.reason(url, under: .development) == .unusualIPv4Spelling)
    }

    @Test(arguments: [
        "https://127.0.0.1/", "https://127.255.0.9/", "https://10.1.2.3/", "https://172.16.0.1/", "https://172.31.255.255/",
        "https://192.168.1.1/", "https://169.254.169.254/latest/meta-data/", "https://0.0.0.0/", "https://100.64.0.1/",
        "https://100.127.255.254/", "https://224.0.0.1/", "https://239.255.255.250/", "https://255.255.255.255/", "https://[::1]/",
        "https://[::]/", "https://[fc00::1]/", "https://[fd12:3456:789a::1]/", "https://[fe80::1]/", "https://[febf::1]/",
        "https://[ff02::1]/", "https://[::ffff:127.0.0.1]/", "https://[::ffff:7f00:1]/", "https://[::ffff:169.254.169.254]/",
        "https://[::ffff:10.0.0.1]/", "https://[::127.0.0.1]/", "https://[64:ff9b::a9fe:a9fe]/", "https://[2002:7f00:1::1]/",
    ])
    func aNonPublicAddressIsRefused(url: String) async {
        #expect(await Self.reason(url) == .nonPublicAddress)
    }

    @Test(arguments: [
        "https://93.184.216.34/hooks", "https://172.32.0.1/", "https://172.15.255.255/", "https://100.128.0.1/",
        "https://11.0.0.1:8443/x?y=1", "https://[2606:2800:220:1:248:1893:25c8:1946]/", "https://[::ffff:93.184.216.34]/",
    ])
    func aPublicAddressIsAccepted(url: String) async throws {
        let destination = try await Self.production.check(url)

        #expect(destination.hostIsAddress)
        #expect(destination.address.nonPublicRange == nil)
    }

    @Test func aPublicAddressLeadsToItself() async throws {
        let destination = try await Self.production.check("https://93.184.216.34/hooks")

        #expect(destination == .init(host: "93.184.216.34", address: IPAddress("93.184.216.34")!, hostIsAddress: true))
    }

    @Test func theRefusalSaysWhatIsWrongInWords() async {
        await #expect(throws: WebhookAddressError.self) { try await Self.production.check("https://169.254.169.254/") }
        do {
            _ = try await Self.production.check("https://169.254.169.254/")
        } catch {
            #expect(
                error.message
                    == "The address 169.254.169.254 is in the link-local (cloud metadata lives there) range; webhooks are sent only to public internet addresses"
            )
            #expect(!error.isTemporary)
        }
    }

    @Test func localhostResolvesToLoopbackAndIsRefused() async throws {
        let addresses = try await WebhookAddressPolicy.resolveWithSystem("localhost")

        #expect(!addresses.isEmpty)
        #expect(addresses.allSatisfy { $0.nonPublicRange?.contains("loopback") == true })
        #expect(await Self.reason("https://localhost/hooks") == .nonPublicAddress)
        #expect(await Self.reason("https://LocalHost/hooks") == .nonPublicAddress)
    }

    @Test func aNameIsRefusedWhenAnyOfItsAddressesIsPrivate() async {
        let policy = Self.resolving(["93.184.216.34", "10.0.0.5"])

        #expect(await Self.reason("https://hooks.example.com/", under: policy) == .nonPublicAddress)
    }

    @Test func aNameWithPublicAddressesIsPinnedToOneOfThemPreferringIPv4() async throws {
        let policy = Self.resolving(["2606:2800:220:1:248:1893:25c8:1946", "93.184.216.34"])

        let destination = try await policy.check("https://hooks.example.com/in")

        #expect(destination == .init(host: "hooks.example.com", address: IPAddress("93.184.216.34")!, hostIsAddress: false))
    }

    @Test func aNameThatDoesNotResolveIsATemporaryRefusal() async throws {
        do {
            _ = try await Self.production.check("https://hooks.does-not-exist.invalid/")
            Issue.record("an unresolvable name passed")
        } catch {
            #expect(error.reason == .unresolvable)
            #expect(error.isTemporary)
        }
    }

    @Test func plainHTTPIsRefusedUnlessAllowed() async throws {
        #expect(await Self.reason("http://93.184.216.34/") == .insecureScheme)
        let insecure = WebhookAddressPolicy(allowsPrivateNetworks: false, allowsInsecureHTTP: true)
        _ = try await insecure.check("http://93.184.216.34/")
        #expect(await Self.reason("http://127.0.0.1/", under: insecure) == .nonPublicAddress)
    }

    @Test(arguments: ["https://user:secret@93.184.216.34/", "https://user@93.184.216.34/", "https://a.b\\@93.184.216.34/"])
    func credentialsInTheURLAreRefused(url: String) async {
        #expect(await Self.reason(url) == .credentialsInURL)
    }

    @Test(arguments: [
        "ftp://93.184.216.34/", "file:///etc/passwd", "http+unix://%2Ftmp%2Fsock/", "https:///path", "/relative", "not a url",
        "https://127.0.0.1%2e/", "https://[fe80::1%25eth0]/", "https://256.1.1.1/", "https://1.2.3.4.5/", "https://08.1.1.1/",
        "https://93.184.216.34:0/", "https://exa_mple\u{e9}.com/",
    ])
    func aMalformedURLIsRefused(url: String) async {
        #expect(await Self.reason(url) == .malformed)
    }

    @Test(arguments: [
        "http://127.0.0.1:8080/hooks", "http://localhost:8080/hooks", "http://[::1]:8080/", "http://10.0.0.1/", "https://192.168.1.20/",
        "http://169.254.169.254/",
    ])
    func privateAddressesAreAllowedWhenConfigured(url: String) async throws {
        let destination = try await WebhookAddressPolicy.development.check(url)

        #expect(destination.address.nonPublicRange != nil)
    }
}
