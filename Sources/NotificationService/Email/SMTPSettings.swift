import Foundation
import Platform

/// Where and how ``SMTPClient`` delivers mail, read from `SMTP_URL`:
///
/// - `smtp://[user:pass@]host[:port][?starttls=auto|required|off]`: a plain connection,
///   upgraded with STARTTLS. `auto` (the default) upgrades when the server offers it,
///   `required` fails the delivery when it does not, `off` never upgrades. The port is 587
///   (submission) with `starttls=required`, 25 otherwise.
/// - `smtps://[user:pass@]host[:port]`: TLS from the first byte (RFC 8314), port 465.
///
/// The user name and password are percent-decoded (`%40` for `@`). Credentials are never
/// sent over a connection that is not encrypted, unless the host is a loopback address:
/// see ``mayAuthenticate(encrypted:)``.
struct SMTPSettings: Sendable, CustomStringConvertible {
    /// How the connection is protected.
    enum Security: String, Sendable {
        /// TLS from the first byte (`smtps://`).
        case implicitTLS
        /// STARTTLS, and the delivery fails when the server does not offer it.
        case startTLSRequired
        /// STARTTLS when the server offers it, plain text otherwise.
        case startTLSIfOffered
        /// Never encrypted.
        case plaintext
    }

    /// Which certificates the client accepts from the server.
    enum CertificateVerification: Sendable, Equatable {
        /// The system's trusted roots, and the certificate must name the host.
        case system
        /// Only certificates issued by the CA in this PEM file, and they must name the host:
        /// for a relay with a private CA.
        case trusting(caFile: String)
        /// Any certificate at all. For tests against a server with a throwaway self-signed
        /// certificate only: it lets anyone on the path read the mail and the password.
        case none
    }

    /// A user name and password for AUTH; the password never appears in a description.
    struct Credentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
        let username: String
        let password: String

        var description: String { "\(username):***" }
        var debugDescription: String { description }
        var customMirror: Mirror { Mirror(self, children: ["username": username, "password": "***"]) }
    }

    var host: String
    var port: Int
    var security: Security
    var credentials: Credentials?
    /// The name this client gives in EHLO; relays may check it, so set the machine's
    /// public DNS name in production. Defaults to the host name, or `localhost`.
    var heloName: String = SMTPSettings.defaultHeloName
    /// How long to wait for the TCP connection.
    var connectTimeout: Duration = .seconds(10)
    /// How long to wait for each reply, the one after the message's data included.
    var commandTimeout: Duration = .seconds(30)
    /// How many connections are open to the server at most (at least 1).
    var poolSize: Int = 4
    var tlsCertificateVerification: CertificateVerification = .system

    /// Reads `SMTP_URL`; the error says what is wrong without repeating the URL, which may
    /// hold a password.
    init(url: String) throws(InvalidValue) {
        guard let schemeEnd = url.range(of: "://") else { throw Self.invalid("it must start with smtp:// or smtps://") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "smtp" || scheme == "smtps" else { throw Self.invalid("the scheme must be smtp or smtps, not \(scheme)") }
        var rest = url[schemeEnd.upperBound...]
        var options: [String: String] = [:]
        if let questionMark = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: questionMark)...].split(separator: "&") {
                let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard keyValue.count == 2 else { throw Self.invalid("the option \(keyValue[0]) needs a value") }
                options[String(keyValue[0]).lowercased()] = String(keyValue[1]).lowercased()
            }
            rest = rest[..<questionMark]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/") else { throw Self.invalid("it must not have a path") }

        var hostAndPort = rest
        if let at = rest.lastIndex(of: "@") {
            credentials = try Self.credentials(rest[..<at])
            hostAndPort = rest[rest.index(after: at)...]
        }
        let (host, port) = try Self.hostAndPort(hostAndPort)
        self.host = host

        switch (scheme, options.removeValue(forKey: "starttls")) {
        case ("smtps", nil): security = .implicitTLS
        case ("smtps", _): throw Self.invalid("starttls does not apply to smtps://, which is TLS from the start")
        case (_, nil), (_, "auto"): security = .startTLSIfOffered
        case (_, "required"): security = .startTLSRequired
        case (_, "off"): security = .plaintext
        case (_, let value?): throw Self.invalid("starttls must be required, auto or off, not \(value)")
        }
        if let unknown = options.keys.sorted().first { throw Self.invalid("unknown option \(unknown) (known: starttls)") }
        let defaultPort =
            switch security {
            case .implicitTLS: 465
            case .startTLSRequired: 587
            case .startTLSIfOffered, .plaintext: 25
            }
        self.port = port ?? defaultPort
    }

    /// Whether credentials may go over this connection: always once it is encrypted; in
    /// plain text only to a loopback address, where no one else can read them (a relay on
    /// the same machine, or a test server).
    func mayAuthenticate(encrypted: Bool) -> Bool {
        encrypted || isLoopback
    }

    /// `localhost`, `127.x.y.z` or `::1`; a name other than localhost is not resolved, and so
    /// does not count.
    var isLoopback: Bool {
        if host.lowercased() == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// Whether the host is an IP address, which cannot be sent as a TLS server name (SNI).
    var hostIsIPAddress: Bool {
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return host.contains(":") || (octets.count == 4 && octets.allSatisfy { UInt8($0) != nil })
    }

    var description: String {
        let scheme = security == .implicitTLS ? "smtps" : "smtp"
        let user = credentials.map { "\($0.username):***@" } ?? ""
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        let query =
            switch security {
            case .implicitTLS: ""
            case .startTLSRequired: "?starttls=required"
            case .startTLSIfOffered: "?starttls=auto"
            case .plaintext: "?starttls=off"
            }
        return "\(scheme)://\(user)\(host):\(port)\(query) (pool \(poolSize), helo \(heloName))"
    }

    /// Whether `name` can follow EHLO: a domain name or an address literal like `[127.0.0.1]`.
    static func isValidHeloName(_ name: String) -> Bool {
        guard (1...255).contains(name.utf8.count) else { return false }
        if name.hasPrefix("[") && name.hasSuffix("]") {
            return name.utf8.dropFirst().dropLast().allSatisfy { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") || isHexDigit($0) }
        }
        return name.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }

    // MARK: Parsing

    private static func credentials(_ userInfo: Substring) throws(InvalidValue) -> Credentials {
        let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let username = parts[0].removingPercentEncoding, !username.isEmpty else {
            throw invalid("the user name is empty or badly percent-encoded")
        }
        guard parts.count == 2, let password = parts[1].removingPercentEncoding else {
            throw invalid("a user name needs a password after ':' (percent-encoded)")
        }
        return Credentials(username: username, password: password)
    }

    private static func hostAndPort(_ text: Substring) throws(InvalidValue) -> (String, Int?) {
        var host = text
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw invalid("an IPv6 address needs its closing ]") }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("only :port may follow the host") }
                portText = after.dropFirst()
            }
            guard !host.isEmpty, host.utf8.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else {
                throw invalid("the IPv6 address is malformed")
            }
        } else {
            if let colon = text.firstIndex(of: ":") {
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            }
            guard !host.isEmpty, host.utf8.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
            else { throw invalid("the host is missing or has characters a host name cannot have") }
        }
        guard let portText else { return (String(host), nil) }
        guard let port = Int(portText), (1...65535).contains(port) else { throw invalid("the port must be a number from 1 to 65535") }
        return (String(host), port)
    }

    private static func invalid(_ reason: String) -> InvalidValue {
        InvalidValue("SMTP_URL must look like smtp://[user:password@]host[:port][?starttls=auto|required|off] or smtps://...: \(reason)")
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
    }

    private static let defaultHeloName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return isValidHeloName(name) ? name : "localhost"
    }()
}
