import Platform
import Testing

@testable import NotificationService

@Suite struct SMTPSettingsTests {
    @Test func aPlainURLUsesPort25AndSTARTTLSWhenOffered() throws {
        let settings = try SMTPSettings(url: "smtp://mail.example.com")

        #expect(settings.host == "mail.example.com")
        #expect(settings.port == 25)
        #expect(settings.security == .startTLSIfOffered)
        #expect(settings.credentials == nil)
        #expect(settings.connectTimeout == .seconds(10) && settings.commandTimeout == .seconds(30) && settings.poolSize == 4)
    }

    @Test func requiredSTARTTLSDefaultsToTheSubmissionPort() throws {
        let settings = try SMTPSettings(url: "smtp://relay.example.com?starttls=required")

        #expect(settings.port == 587)
        #expect(settings.security == .startTLSRequired)
    }

    @Test func smtpsIsImplicitTLSOnPort465() throws {
        let settings = try SMTPSettings(url: "smtps://relay.example.com")

        #expect(settings.port == 465)
        #expect(settings.security == .implicitTLS)
    }

    @Test func credentialsArePercentDecoded() throws {
        let settings = try SMTPSettings(url: "smtp://shop%40example.com:p%C3%A4ss%3Aw%2Fd@[::1]:2525/?starttls=off")

        #expect(settings.credentials == SMTPSettings.Credentials(username: "shop@example.com", password: "päss:w/d"))
        #expect(settings.host == "::1")
        #expect(settings.port == 2525)
        #expect(settings.security == .plaintext)
    }

    @Test func theDescriptionNeverShowsThePassword() throws {
        let settings = try SMTPSettings(url: "smtp://shop:s3cr3t-Passw0rd@relay.example.com:2525")

        #expect(!settings.description.contains("s3cr3t"))
        #expect(!String(reflecting: settings).contains("s3cr3t"))
        #expect(!String(describing: settings.credentials).contains("s3cr3t"))
        #expect(settings.description.contains("shop:***@relay.example.com:2525"))
    }

    @Test(arguments: [
        "relay.example.com", "http://relay.example.com", "smtp://", "smtp://relay.example.com:0", "smtp://relay.example.com:99999",
        "smtp://relay.example.com:port", "smtp://relay.example.com/path", "smtp://relay.example.com?starttls=maybe",
        "smtps://relay.example.com?starttls=required", "smtp://relay.example.com?tls=on", "smtp://user@relay.example.com",
        "smtp://rel ay.example.com", "smtp://[::1", "smtp://user:%zz@relay.example.com",
    ])
    func aMalformedURLIsRefusedWithAReason(url: String) {
        #expect(throws: InvalidValue.self) { try SMTPSettings(url: url) }
    }

    @Test func aMalformedURLsErrorDoesNotRepeatThePassword() {
        let error = #expect(throws: InvalidValue.self) { try SMTPSettings(url: "smtp://shop:s3cr3t@relay.example.com:http") }

        #expect(error?.reason.contains("s3cr3t") == false)
    }

    @Test func credentialsGoOverPlainTextOnlyToALoopbackHost() throws {
        let remote = try SMTPSettings(url: "smtp://u:p@mail.example.com?starttls=off")
        let loopback = try SMTPSettings(url: "smtp://u:p@127.0.0.1?starttls=off")
        let localhost = try SMTPSettings(url: "smtp://u:p@localhost?starttls=off")

        #expect(!remote.mayAuthenticate(encrypted: false))
        #expect(remote.mayAuthenticate(encrypted: true))
        #expect(loopback.mayAuthenticate(encrypted: false))
        #expect(localhost.mayAuthenticate(encrypted: false))
    }

    @Test(arguments: ["127.0.0.2", "::1", "LOCALHOST"])
    func loopbackAddressesAreRecognised(host: String) throws {
        var settings = try SMTPSettings(url: "smtp://relay.example.com")
        settings.host = host

        #expect(settings.isLoopback)
    }

    @Test(arguments: ["10.0.0.1", "127.example.com", "localhost.example.com", "127.0.0"])
    func otherHostsAreNotLoopback(host: String) throws {
        var settings = try SMTPSettings(url: "smtp://relay.example.com")
        settings.host = host

        #expect(!settings.isLoopback)
    }
}
