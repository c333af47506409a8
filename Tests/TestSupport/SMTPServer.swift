import Foundation

/// A private SMTP server (Python's aiosmtpd) on a free loopback port, that keeps every
/// message it accepts, byte for byte, for the test to read back.
///
/// Recipients choose how it behaves, so one server serves every case: a local part that
/// starts with `refuse4xx` gets `450` to RCPT, `refuse5xx` gets `550`, `stall` gets no reply
/// to the end of the data for a minute, and `drop` has the connection closed then;
/// `busyonce`, `stallonce` and `droponce` do the same only the first time (per address, or
/// per `Message-ID`), then take the message.
public final class SMTPServer: @unchecked Sendable {
    /// A PEM certificate and its key.
    public struct TLSFiles: Sendable {
        public let certificate: String
        public let key: String
    }

    public struct Options: Sendable {
        /// Offer STARTTLS with this certificate (or speak TLS from the start: `implicitTLS`).
        public var tls: TLSFiles?
        public var implicitTLS = false
        /// Refuse every command but EHLO, STARTTLS and QUIT before TLS.
        public var requireStartTLS = false
        /// Require AUTH with this user name and password.
        public var user: String?
        public var password: String?
        /// Offer AUTH only once the connection is encrypted (aiosmtpd's default).
        public var authRequiresTLS = true
        /// AUTH mechanisms not to offer, such as `PLAIN` to leave only `LOGIN`.
        public var excludedAuthMechanisms: [String] = []
        /// Close connections idle for this many seconds (after a 421 reply).
        public var idleTimeout: Int?

        public init() {}
    }

    /// One message the server accepted.
    public struct ReceivedMail: Sendable, Decodable {
        public let mailFrom: String
        public let recipients: [String]
        public let mailOptions: [String]
        /// Whether the session was encrypted (STARTTLS or TLS from the start).
        public let tls: Bool
        /// The user name the client authenticated as, if it did.
        public let authenticatedAs: String?
        /// The client's address and port: one per connection.
        public let peer: String
        /// What arrived after DATA, with the dot-stuffing undone, without the final ".".
        public var data: [UInt8] = []

        private enum CodingKeys: String, CodingKey {
            case mailFrom = "mail_from", recipients = "rcpt_tos", mailOptions = "mail_options", tls, authenticatedAs = "auth", peer
        }
    }

    public let port: Int
    private let directory: URL
    private let mailDirectory: URL
    private let process: ChildProcess

    private init(port: Int, directory: URL, process: ChildProcess) {
        self.port = port
        self.directory = directory
        self.mailDirectory = directory.appendingPathComponent("mail")
        self.process = process
    }

    /// Whether tests that need aiosmtpd run: when python3 can import it, or when required
    /// (``Backends/required``, and then they fail without it).
    public static func isAvailable() async -> Bool {
        if Backends.required { return true }
        if await canImportAiosmtpd.value { return true }
        Backends.reportSkip("python3 with aiosmtpd", in: "the SMTP tests")
        return false
    }

    private static let canImportAiosmtpd = Task<Bool, Never> {
        guard let python = Backends.executable("python3"),
            let check = try? ChildProcess(python, arguments: ["-c", "import aiosmtpd"], environment: ProcessInfo.processInfo.environment)
        else { return false }
        return (try? await exitStatus(of: check)) == 0
    }

    public static func start(_ options: Options = Options()) async throws -> SMTPServer {
        guard let python = Backends.executable("python3") else {
            throw MissingBackend("python3 is not on PATH (needed with aiosmtpd: pip install aiosmtpd)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("mail"), withIntermediateDirectories: true)
        let script = directory.appendingPathComponent("server.py")
        try Data(serverProgram.utf8).write(to: script)
        // A port taken between the look and the bind makes the server exit: try another.
        for _ in 1...5 {
            let port = try freePort()
            let log = directory.appendingPathComponent("server-\(port).log")
            let ready = directory.appendingPathComponent("ready-\(port)")
            var arguments = [
                script.path, "--port", String(port), "--mail-dir", directory.appendingPathComponent("mail").path, "--ready-file", ready.path,
            ]
            if let tls = options.tls { arguments += ["--cert", tls.certificate, "--key", tls.key] }
            if options.implicitTLS { arguments.append("--implicit-tls") }
            if options.requireStartTLS { arguments.append("--require-starttls") }
            if let user = options.user, let password = options.password { arguments += ["--user", user, "--password", password] }
            if !options.authRequiresTLS { arguments.append("--auth-plaintext") }
            for mechanism in options.excludedAuthMechanisms { arguments += ["--exclude-auth", mechanism] }
            if let idleTimeout = options.idleTimeout { arguments += ["--idle-timeout", String(idleTimeout)] }
            let process = try ChildProcess(python, arguments: arguments, environment: ProcessInfo.processInfo.environment, output: log.path)
            // Up to 30 s: Python starts slowly on a loaded machine.
            for _ in 0..<600 where process.isRunning && !FileManager.default.fileExists(atPath: ready.path) {
                try await Task.sleep(for: .milliseconds(50))
            }
            if FileManager.default.fileExists(atPath: ready.path) {
                return SMTPServer(port: port, directory: directory, process: process)
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if process.terminationStatus == 3 {
                throw MissingBackend("python3 cannot import aiosmtpd (pip install aiosmtpd)")
            }
            guard process.terminationStatus == 4 else { throw SMTPServerDidNotStart(output: output) }
        }
        throw SMTPServerDidNotStart(output: "no free port after 5 tries")
    }

    /// The messages accepted so far, in the order they arrived.
    public func receivedMail() throws -> [ReceivedMail] {
        let files = try FileManager.default.contentsOfDirectory(atPath: mailDirectory.path).filter { $0.hasSuffix(".mail") }.sorted()
        return try files.map { name in
            let bytes = try [UInt8](Data(contentsOf: mailDirectory.appendingPathComponent(name)))
            let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
            var mail = try JSONDecoder().decode(ReceivedMail.self, from: Data(bytes[..<newline]))
            mail.data = Array(bytes[min(newline + 1, bytes.endIndex)...])
            return mail
        }
    }

    /// Waits until at least `count` messages have arrived (30 s at most), and returns them all.
    public func waitForMail(count: Int) async throws -> [ReceivedMail] {
        for _ in 0..<600 {
            let mail = try receivedMail()
            if mail.count >= count { return mail }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try receivedMail()
    }

    /// A self-signed certificate for `localhost` and 127.0.0.1, valid for a day, made with
    /// the openssl command; it serves as its own CA for a client that trusts it.
    public static func makeCertificate(in directory: URL) async throws -> TLSFiles {
        guard let openssl = Backends.executable("openssl") else { throw MissingBackend("openssl is not on PATH (apt-get install openssl)") }
        let files = TLSFiles(certificate: directory.appendingPathComponent("cert.pem").path, key: directory.appendingPathComponent("key.pem").path)
        let process = try ChildProcess(
            openssl,
            arguments: [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", files.key, "-out", files.certificate,
            ],
            environment: ProcessInfo.processInfo.environment
        )
        guard try await exitStatus(of: process) == 0 else { throw SMTPServerDidNotStart(output: "openssl req failed") }
        return files
    }

    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Stops it and waits until it has exited, so its port refuses connections.
    public func stopAndWait() async throws {
        stop()
        _ = try await Self.exitStatus(of: process)
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private static func exitStatus(of process: ChildProcess) async throws -> Int32 {
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        return process.terminationStatus
    }

    /// The server: exit status 3 when aiosmtpd is missing, 4 when the port is taken.
    private static let serverProgram = #"""
        import argparse, asyncio, errno, json, os, ssl, sys

        try:
            from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
        except ImportError:
            print("aiosmtpd is not installed", file=sys.stderr)
            sys.exit(3)

        parser = argparse.ArgumentParser()
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--mail-dir", required=True)
        parser.add_argument("--ready-file", required=True)
        parser.add_argument("--cert")
        parser.add_argument("--key")
        parser.add_argument("--implicit-tls", action="store_true")
        parser.add_argument("--require-starttls", action="store_true")
        parser.add_argument("--user")
        parser.add_argument("--password")
        parser.add_argument("--auth-plaintext", action="store_true")
        parser.add_argument("--exclude-auth", action="append", default=[])
        parser.add_argument("--idle-timeout", type=float, default=300)
        args = parser.parse_args()


        def local_parts(envelope):
            return [address.split("@")[0].lower() for address in envelope.rcpt_tos]


        class Handler:
            def __init__(self):
                self.count = 0
                self.failed_once = set()

            def first_time(self, key):
                if key in self.failed_once:
                    return False
                self.failed_once.add(key)
                return True

            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                local = address.split("@")[0].lower()
                if local.startswith("busyonce") and self.first_time(("busy", address.lower())):
                    return "450 4.2.1 Mailbox busy, try again later (test)"
                if local.startswith("refuse4xx"):
                    return "450 4.2.1 Mailbox busy, try again later (test)"
                if local.startswith("refuse5xx"):
                    return "550 5.1.1 No such user (test)"
                envelope.rcpt_tos.append(address)
                envelope.rcpt_options.extend(rcpt_options)
                return "250 2.1.5 OK"

            async def handle_DATA(self, server, session, envelope):
                locals_ = local_parts(envelope)
                message_id = ""
                for line in envelope.original_content.split(b"\r\n"):
                    if line.lower().startswith(b"message-id:"):
                        message_id = line.split(b":", 1)[1].strip().decode()
                        break
                # The "once" recipients fail the first time a message comes, and take it when
                # it comes again (a stalled or dropped message is never kept).
                if any(local.startswith("stallonce") for local in locals_) and self.first_time(("stall", message_id)):
                    await asyncio.sleep(60)
                    return "451 4.3.0 Stalled (test)"
                if any(local.startswith("droponce") for local in locals_) and self.first_time(("drop", message_id)):
                    server.transport.close()
                    return "451 4.3.0 Dropped (test)"
                if any(local.startswith("stall") and not local.startswith("stallonce") for local in locals_):
                    await asyncio.sleep(60)
                    return "451 4.3.0 Stalled (test)"
                if any(local.startswith("drop") and not local.startswith("droponce") for local in locals_):
                    server.transport.close()
                    return "451 4.3.0 Dropped (test)"
                self.count += 1
                name = "%06d-%d" % (self.count, os.getpid())
                record = {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "mail_options": envelope.mail_options,
                    "tls": server.transport.get_extra_info("ssl_object") is not None,
                    "auth": session.auth_data if session.authenticated else None,
                    "peer": "%s:%s" % tuple(session.peer[:2]),
                }
                temporary = os.path.join(args.mail_dir, "." + name + ".tmp")
                with open(temporary, "wb") as file:
                    file.write(json.dumps(record).encode() + b"\n" + envelope.original_content)
                os.replace(temporary, os.path.join(args.mail_dir, name + ".mail"))
                return "250 2.0.0 Ok: queued as %s" % name


        def authenticator(server, session, envelope, mechanism, auth_data):
            if (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == args.user
                and auth_data.password.decode() == args.password
            ):
                return AuthResult(success=True, auth_data=args.user)
            return AuthResult(success=False, handled=False)


        async def main():
            context = None
            if args.cert:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(args.cert, args.key)
            handler = Handler()

            def factory():
                options = dict(
                    hostname="localhost",
                    timeout=args.idle_timeout,
                    auth_exclude_mechanism=args.exclude_auth,
                    auth_require_tls=not args.auth_plaintext,
                )
                if context is not None and not args.implicit_tls:
                    options.update(tls_context=context, require_starttls=args.require_starttls)
                if args.user:
                    options.update(authenticator=authenticator, auth_required=True)
                return SMTP(handler, **options)

            loop = asyncio.get_running_loop()
            try:
                server = await loop.create_server(
                    factory, "127.0.0.1", args.port, ssl=context if args.implicit_tls else None
                )
            except OSError as error:
                print(error, file=sys.stderr)
                sys.exit(4 if error.errno == errno.EADDRINUSE else 1)
            open(args.ready_file, "w").close()
            await server.serve_forever()


        asyncio.run(main())
        """#
}

public struct SMTPServerDidNotStart: Error, CustomStringConvertible {
    public let output: String
    public var description: String { "the SMTP test server did not start: \(output)" }
}
