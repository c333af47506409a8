import AsyncHTTPClient
import Foundation
import NIOCore
import Platform

/// Sends text messages through Twilio's Messages API: one form-encoded POST per message to
/// `/2010-04-01/Accounts/{AccountSid}/Messages.json`, with the account's Basic credentials.
///
/// The request runs on the injected client and must have its answer's head within the
/// settings' timeout; reading the answer gets what is left of it, and at most
/// ``responseReadLimit`` bytes of it are read. A detail for the delivery log names the HTTP
/// status and Twilio's error code and message, and never holds the auth token, the message's
/// body or a whole phone number.
///
/// No idempotency key goes with the request: when an answer is lost (a timeout after Twilio
/// accepted the message), the retry that follows may send the text a second time.
struct TwilioSMSSender: SMSTransport {
    /// How much of Twilio's answer is read.
    static let responseReadLimit = 4096
    /// How many characters of Twilio's error message a detail shows.
    static let messageLength = 200
    /// Twilio's error code for a recipient who replied STOP: the number takes no more
    /// messages from this sender until it replies START.
    static let unsubscribedRecipientCode = 21610

    let settings: TwilioSettings
    let httpClient: HTTPClient
    let userAgent: String

    init(settings: TwilioSettings, httpClient: HTTPClient, userAgent: String = "Shop-SMS/1") {
        self.settings = settings
        self.httpClient = httpClient
        self.userAgent = userAgent
    }

    /// Asks Twilio to send `message` and returns its answer (`201 SM… queued`).
    ///
    /// - Throws: ``DeliveryFailure``: `transient` for a connection failure, a timeout, a 408,
    ///   429 or 5xx; `gone` for a 400 with Twilio's code 21610 (the recipient replied STOP);
    ///   `permanent` for a recipient that is not in E.164 form (nothing is sent) and any
    ///   other status.
    func send(_ message: SMSMessage) async throws(DeliveryFailure) -> String {
        guard TwilioSettings.isE164(message.to) else {
            throw .permanent("The recipient's number is not in E.164 form (+ and 8 to 15 digits), so nothing was sent")
        }
        let deadline = NIODeadline.now() + TimeAmount(settings.timeout)
        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(request(for: message), deadline: deadline)
        } catch {
            throw .transient(describe(error, recipient: message.to))
        }
        let answer = await response.body.prefix(Self.responseReadLimit, until: deadline)
        return try outcome(
            code: response.status.code,
            reason: response.status.reasonPhrase,
            answer: answer,
            recipient: message.to,
            body: message.body
        ).get()
    }

    /// The POST that creates `message` at Twilio.
    private func request(for message: SMSMessage) -> HTTPClientRequest {
        var fields = [("To", message.to)]
        switch settings.sender {
        case .number(let number): fields.append(("From", number))
        case .messagingService(let sid): fields.append(("MessagingServiceSid", sid))
        }
        fields.append(("Body", message.body))
        let form = fields.map { "\($0)=\(Self.formEncoded($1))" }.joined(separator: "&")

        var request = HTTPClientRequest(url: "\(settings.baseURL)/2010-04-01/Accounts/\(settings.accountSID)/Messages.json")
        request.method = .POST
        request.headers.add(name: "authorization", value: "Basic \(basicCredentials)")
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "accept", value: "application/json")
        request.headers.add(name: "user-agent", value: userAgent)
        request.body = .bytes(ByteBuffer(string: form))
        return request
    }

    private var basicCredentials: String {
        Data("\(settings.accountSID):\(settings.authToken)".utf8).base64EncodedString()
    }

    // MARK: Twilio's answer

    /// What Twilio answers when it accepts a message (among other fields).
    private struct CreatedMessage: Decodable {
        let sid: String?
        let status: String?
    }

    /// What Twilio answers when it refuses a request (among other fields; its `status` is a
    /// number here, a word in ``CreatedMessage``).
    private struct ErrorAnswer: Decodable {
        let code: Int?
        let message: String?
    }

    /// What an answer with status `code` and body `answer` means for the message.
    private func outcome(code: UInt, reason: String, answer: [UInt8], recipient: String, body: String) -> Result<String, DeliveryFailure> {
        let head = "\(code) \(reason)"
        if (200..<300).contains(code) {
            guard let created = try? JSONDecoder().decode(CreatedMessage.self, from: Data(answer)), let sid = created.sid else {
                return .success(head)
            }
            let words = [String(code), sid, created.status].compactMap { $0.map { Self.oneLine($0, limit: 64) } }
            return .success(words.joined(separator: " "))
        }

        let problem = try? JSONDecoder().decode(ErrorAnswer.self, from: Data(answer))
        var detail = head
        if let code = problem?.code { detail += ", Twilio error \(code)" }
        // Redacted before it is cut, so that no piece of a secret survives at the cut.
        if let text = problem?.message {
            detail += ": " + Self.oneLine(redacted(text, recipient: recipient, body: body), limit: Self.messageLength)
        }

        switch code {
        case 408, 429, 500..<600:
            return .failure(.transient(detail))
        case 400 where problem?.code == Self.unsubscribedRecipientCode:
            return .failure(.gone(detail))
        default:
            return .failure(.permanent(detail))
        }
    }

    // MARK: Details

    private func describe(_ error: any Error, recipient: String) -> String {
        switch error as? HTTPClientError {
        case .deadlineExceeded?, .readTimeout?:
            return "No answer from Twilio within \(settings.timeout)"
        case .connectTimeout?:
            return "Could not connect to Twilio within \(settings.timeout)"
        default:
            let text = redacted(String(describing: error), recipient: recipient)
            return "Could not reach Twilio: " + Self.oneLine(text, limit: Self.messageLength)
        }
    }

    /// `text` with the auth token, the Basic credentials and the message's text taken out
    /// (it may hold a verification code), and every phone number (the recipient's above all)
    /// cut to its last digits.
    private func redacted(_ text: String, recipient: String, body: String = "") -> String {
        var text = text
        for secret in [settings.authToken, basicCredentials, body] where !secret.isEmpty {
            text = text.replacingOccurrences(of: secret, with: "***")
        }
        text = text.replacingOccurrences(of: recipient, with: Self.masked(recipient))
        text = text.replacingOccurrences(of: recipient.dropFirst(), with: Self.masked(recipient))
        return Self.maskingPhoneNumbers(in: text)
    }

    /// `number` as `+…` and its last three digits.
    static func masked(_ number: some StringProtocol) -> String {
        "+…" + number.suffix(3)
    }

    /// `text` with every run of seven or more digits standing on its own (a `+` in front of
    /// it is part of it) replaced by ``masked(_:)``.
    static func maskingPhoneNumbers(in text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let start = rest.firstIndex(where: isASCIIDigit) {
            let end = rest[start...].firstIndex { !isASCIIDigit($0) } ?? rest.endIndex
            let digits = rest[start..<end]
            var before = rest[..<start]
            let plus = before.last == "+"
            if plus { before = before.dropLast() }
            // Digits inside a word (a SID, a URL's path) are not a phone number.
            let standsAlone = !isLetterOrDigit(before.last) && !isLetterOrDigit(rest[end...].first)
            result += before
            result += digits.count >= 7 && standsAlone ? masked(digits) : (plus ? "+" : "") + digits
            rest = rest[end...]
        }
        return result + rest
    }

    private static func isASCIIDigit(_ character: Character) -> Bool {
        character.isASCII && character.isWholeNumber
    }

    private static func isLetterOrDigit(_ character: Character?) -> Bool {
        character.map { $0.isLetter || $0.isNumber } ?? false
    }

    /// `text` on one line, cut to `limit` characters.
    private static func oneLine(_ text: String, limit: Int) -> String {
        let words = text.split { $0.isWhitespace || $0.unicodeScalars.contains { $0.properties.generalCategory == .control } }
        let line = words.joined(separator: " ")
        return line.count <= limit ? line : line.prefix(limit) + "…"
    }

    // MARK: Encoding and reading

    /// `value` encoded for an `application/x-www-form-urlencoded` body: every UTF-8 byte
    /// outside RFC 3986's unreserved set as `%XX` (a space as `%20`, which a form decoder
    /// reads as it reads `+`).
    static func formEncoded(_ value: String) -> String {
        PercentEncoding.encoded(value)
    }
}
