import Foundation
import Mustache

/// A message ready for a channel: a subject and a text body, and HTML for e-mail.
struct RenderedMessage: Sendable, Hashable {
    var subject: String
    var text: String
    var html: String?
}

/// A push notification's visible parts.
struct RenderedPush: Sendable, Hashable {
    var title: String
    var body: String
}

/// The message templates, per notification kind and locale, compiled once at start: the
/// built-in ones, replaced by any file in the operator's folder named
/// `<kind>.<locale>.<part>.mustache` (`order_confirmed.de.html.mustache`). The parts are
/// `subject`, `text` and `html` for e-mail, `sms`, and `push_title` and `push_body`.
///
/// A locale falls back to its language, then to English (`de-CH`, `de`, `en`). Subjects
/// and text bodies are rendered as text (nothing escaped); HTML bodies escape every value.
struct TemplateLibrary: Sendable {
    /// A template that cannot be used: a file named for nothing we send, or one that
    /// does not parse. Start-up stops with it, naming the file.
    struct InvalidTemplate: Error, CustomStringConvertible {
        let name: String
        let reason: String
        var description: String { "template \(name): \(reason)" }
    }

    static let parts = ["subject", "text", "html", "sms", "push_title", "push_body"]

    /// The parts English must have for a kind to go out on a channel.
    static func requiredParts(of channel: NotificationChannel) -> [String] {
        switch channel {
        case .email: ["subject", "text"]
        case .sms: ["sms"]
        case .push: ["push_title", "push_body"]
        case .webhook: []
        }
    }
    private let templates: [String: MustacheTemplate]

    init(directory: String? = nil) throws {
        var sources = DefaultTemplates.all
        if let directory {
            for (name, text) in try Self.files(in: directory) { sources[name] = text }
        }
        var compiled: [String: MustacheTemplate] = [:]
        for (name, source) in sources {
            // Only HTML escapes: a subject or a text body shows `&` as `&`.
            let text = name.hasSuffix(".html") ? source : "{{% CONTENT_TYPE: TEXT}}" + source
            do {
                compiled[name] = try MustacheTemplate(string: text)
            } catch {
                throw InvalidTemplate(name: name, reason: "does not parse: \(error)")
            }
        }
        for kind in NotificationKind.allCases {
            for channel in kind.channels {
                for part in Self.requiredParts(of: channel) where compiled["\(kind.rawValue).en.\(part)"] == nil {
                    throw InvalidTemplate(name: "\(kind.rawValue).en.\(part)", reason: "is missing; English is every kind's fallback")
                }
            }
        }
        self.templates = compiled
    }

    /// The message for `kind` in `locale` (or its fallback) with `context`'s values.
    func render(_ kind: NotificationKind, locale: String, context: MessageContext) throws -> RenderedMessage {
        render(kind, locale: locale, values: context.templateValues())
    }

    /// The message for `kind` in `locale` (or its fallback) with these values.
    func render(_ kind: NotificationKind, locale: String, values: [String: Any]) -> RenderedMessage {
        let chosen = Self.fallbacks(of: locale).first { templates["\(kind.rawValue).\($0).subject"] != nil } ?? "en"
        func render(_ part: String) -> String? {
            templates["\(kind.rawValue).\(chosen).\(part)"]?.render(values)
        }
        // A subject is one line, whatever the template or the values hold.
        let subject = (render("subject") ?? "").split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        return RenderedMessage(subject: subject, text: render("text") ?? "", html: render("html"))
    }

    /// The text of an SMS for `kind` in `locale` (or its fallback), on one line per line
    /// the template has, trimmed.
    func renderSMS(_ kind: NotificationKind, locale: String, context: MessageContext) throws -> String {
        let values = context.templateValues()
        let chosen = Self.fallbacks(of: locale).first { templates["\(kind.rawValue).\($0).sms"] != nil } ?? "en"
        let text = templates["\(kind.rawValue).\(chosen).sms"]?.render(values) ?? ""
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A push notification's title and body for `kind` in `locale` (or its fallback); the
    /// title is one line.
    func renderPush(_ kind: NotificationKind, locale: String, context: MessageContext) throws -> RenderedPush {
        let values = context.templateValues()
        let chosen = Self.fallbacks(of: locale).first { templates["\(kind.rawValue).\($0).push_title"] != nil } ?? "en"
        func render(_ part: String) -> String {
            (templates["\(kind.rawValue).\(chosen).\(part)"]?.render(values) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let title = render("push_title").split(whereSeparator: \.isNewline).joined(separator: " ")
        return RenderedPush(title: title, body: render("push_body"))
    }

    /// `de-CH` → `de-CH`, `de`, `en`.
    static func fallbacks(of locale: String) -> [String] {
        var chain: [String] = []
        var parts = locale.split(separator: "-").map(String.init)
        while !parts.isEmpty {
            chain.append(parts.joined(separator: "-"))
            parts.removeLast()
        }
        if !chain.contains("en") { chain.append("en") }
        return chain
    }

    /// The operator's templates, by name; a file that names no kind or part is an error.
    static func files(in directory: String) throws -> [String: String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw InvalidTemplate(name: directory, reason: "the folder cannot be read")
        }
        var found: [String: String] = [:]
        for file in names where file.hasSuffix(".mustache") {
            let name = String(file.dropLast(".mustache".count))
            let pieces = name.split(separator: ".").map(String.init)
            guard pieces.count == 3, NotificationKind(rawValue: pieces[0]) != nil, parts.contains(pieces[2]),
                pieces[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }), !pieces[1].isEmpty
            else {
                throw InvalidTemplate(
                    name: file,
                    reason: "must be named <kind>.<locale>.<subject|text|html|sms|push_title|push_body>.mustache, kind one of "
                        + NotificationKind.allCases.map(\.rawValue).joined(separator: ", ")
                )
            }
            let path = URL(fileURLWithPath: directory).appendingPathComponent(file).path
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw InvalidTemplate(name: file, reason: "cannot be read as UTF-8")
            }
            found[name] = text
        }
        return found
    }
}
