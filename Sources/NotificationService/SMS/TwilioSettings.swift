import Foundation
import Platform

/// The account, credentials and sender ``TwilioSMSSender`` sends with.
///
/// Every value is checked once, in the initializer, so a running sender never finds out at
/// the first message that its configuration was wrong. The auth token never appears in a
/// description, a debug description, a mirror or an error.
struct TwilioSettings: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Who a message comes from: one of the account's numbers, or a messaging service that
    /// picks one from its pool.
    enum Sender: Sendable, Hashable {
        /// A number of the account, in E.164 (`+14155550100`): sent as `From`.
        case number(String)
        /// A messaging service's SID (`MG` and 32 hexadecimal digits): sent as
        /// `MessagingServiceSid`.
        case messagingService(String)
    }

    /// The account's SID (`AC…`): part of the path of every request, and the user name of
    /// its Basic authentication.
    let accountSID: String
    /// The account's auth token: the password of every request's Basic authentication.
    let authToken: String
    let sender: Sender
    /// Where the API lives, without a trailing slash: `https://api.twilio.com` in
    /// production, a loopback address over plain HTTP in tests.
    let baseURL: String
    /// How long one message may take, from connecting to reading Twilio's answer.
    let timeout: Duration

    /// Where Twilio's REST API lives.
    static let defaultBaseURL = "https://api.twilio.com"

    /// Checks and keeps the settings; exactly one of `from` and `messagingServiceSID` must be
    /// given.
    ///
    /// - Throws: ``InvalidValue`` saying which value is wrong and why, never repeating the
    ///   auth token.
    init(
        accountSID: String,
        authToken: String,
        from: String? = nil,
        messagingServiceSID: String? = nil,
        baseURL: String = TwilioSettings.defaultBaseURL,
        timeout: Duration = .seconds(10)
    ) throws(InvalidValue) {
        guard !accountSID.isEmpty else { throw InvalidValue("The Twilio account SID is empty") }
        // The SID goes into the request path and before the colon of the Basic credentials.
        guard accountSID.utf8.allSatisfy(Self.isASCIILetterOrDigit) else {
            throw InvalidValue("The Twilio account SID may contain only ASCII letters and digits")
        }
        guard !authToken.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw InvalidValue("The Twilio auth token is empty")
        }
        self.accountSID = accountSID
        self.authToken = authToken
        self.sender = try Self.sender(from: from, messagingServiceSID: messagingServiceSID)
        self.baseURL = try Self.checkedBaseURL(baseURL)
        guard timeout > .zero else { throw InvalidValue("The Twilio timeout must be longer than zero") }
        self.timeout = timeout
    }

    /// Whether `number` is in E.164 form: `+`, then 8 to 15 ASCII digits, the first not 0.
    static func isE164(_ number: String) -> Bool {
        let bytes = number.utf8
        guard bytes.first == UInt8(ascii: "+") else { return false }
        let digits = bytes.dropFirst()
        guard (8...15).contains(digits.count), digits.first != UInt8(ascii: "0") else { return false }
        return digits.allSatisfy(isASCIIDigit)
    }

    var description: String {
        let from =
            switch sender {
            case .number(let number): "from \(number)"
            case .messagingService(let sid): "via messaging service \(sid)"
            }
        return "Twilio account \(accountSID) at \(baseURL), \(from), timeout \(timeout), auth token ***"
    }

    var debugDescription: String { description }

    var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "accountSID": accountSID, "authToken": "***", "sender": sender, "baseURL": baseURL, "timeout": timeout,
            ]
        )
    }

    // MARK: Checks

    private static func sender(from: String?, messagingServiceSID: String?) throws(InvalidValue) -> Sender {
        switch (from, messagingServiceSID) {
        case (nil, nil):
            throw InvalidValue("Twilio needs a sender: a From number or a messaging service SID")
        case (.some, .some):
            throw InvalidValue("Twilio takes a From number or a messaging service SID, not both")
        case (let number?, nil):
            guard isE164(number) else {
                throw InvalidValue("The Twilio From number must be in E.164 form: + and 8 to 15 digits, the first not 0")
            }
            return .number(number)
        case (nil, let sid?):
            let bytes = sid.utf8
            guard sid.hasPrefix("MG"), bytes.count == 34, bytes.dropFirst(2).allSatisfy(isASCIIHexDigit) else {
                throw InvalidValue("The Twilio messaging service SID must be MG and 32 hexadecimal digits")
            }
            return .messagingService(sid)
        }
    }

    /// `text` without its trailing slashes, when it is an https URL, or an http one to a
    /// loopback host, where nothing leaves the machine.
    private static func checkedBaseURL(_ text: String) throws(InvalidValue) -> String {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else {
            throw InvalidValue("The Twilio base URL must be an absolute URL such as \(defaultBaseURL)")
        }
        guard components.user == nil, components.password == nil, components.query == nil, components.fragment == nil else {
            throw InvalidValue("The Twilio base URL must not have credentials, a query or a fragment")
        }
        switch scheme {
        case "https":
            break
        case "http" where isLoopback(host):
            break
        case "http":
            throw InvalidValue("The Twilio base URL must use https unless its host is 127.0.0.1, ::1 or localhost")
        default:
            throw InvalidValue("The Twilio base URL must use https, not \(scheme)")
        }
        var url = Substring(text)
        while url.hasSuffix("/") { url = url.dropLast() }
        return String(url)
    }

    private static func isLoopback(_ host: String) -> Bool {
        // URLComponents keeps the brackets around an IPv6 address.
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return ["127.0.0.1", "::1", "localhost"].contains(bare.lowercased())
    }

    private static func isASCIIDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isASCIIHexDigit(_ byte: UInt8) -> Bool {
        isASCIIDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
    }

    private static func isASCIILetterOrDigit(_ byte: UInt8) -> Bool {
        isASCIIDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
    }
}
