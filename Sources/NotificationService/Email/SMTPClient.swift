import Logging
import NIOSSL
import Synchronization

/// Delivers mail through an SMTP relay (``SMTPSettings``), over at most `poolSize`
/// connections that are kept open between messages.
///
/// A send takes an idle connection (checked with RSET first) or opens one, and gives it
/// back afterwards; a connection is closed after any failure, so a session in doubt never
/// carries the next message. When every connection is busy, a send waits for one.
///
/// Failures are ``DeliveryFailure``: what the server refuses with 5xx (a wrong password
/// included) is permanent; 4xx replies, timeouts, refused or dropped connections, TLS
/// errors and configuration the server cannot honour (STARTTLS required but not offered,
/// credentials without an encrypted connection) are transient, so messages wait for the
/// relay or the configuration to be mended. Neither errors nor logs carry the password,
/// the AUTH exchange or message bodies.
final class SMTPClient: MailTransport {
    private let settings: SMTPSettings
    private let logger: Logger
    /// Built once; `nil` for a connection that is never encrypted, or when it could not
    /// be built (then `tlsSetupFailure` says why, and every send fails with it).
    private let tls: NIOSSLContext?
    private let tlsSetupFailure: String?
    private let pool = Mutex(Pool())

    private struct Pool {
        var idle: [SMTPConnection] = []
        /// Sends that hold a connection or are opening one; never more than the pool size.
        var busy = 0
        var waiters: [(id: Int, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextWaiterID = 0
        var isShutDown = false
    }

    init(settings: SMTPSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        do {
            tls = settings.security == .plaintext ? nil : try Self.makeTLSContext(settings.tlsCertificateVerification)
            tlsSetupFailure = nil
        } catch {
            tls = nil
            tlsSetupFailure = "\(error)"
        }
    }

    func send(_ message: MailMessage) async throws -> String {
        try await acquireTurn()
        var connection: SMTPConnection?
        do {
            connection = try await leaseConnection()
            let reply = try await connection!.deliver(message)
            await endTurn(returning: connection)
            return reply.description
        } catch {
            connection?.abandon()
            await endTurn(returning: nil)
            if let failure = error as? DeliveryFailure {
                logger.debug("SMTP connection dropped", metadata: ["smtp.failure": "\(failure)"])
            }
            throw error
        }
    }

    /// Closes the idle connections (with QUIT) and those in use as their sends finish;
    /// sends that wait for a connection, or come later, fail as transient.
    func shutdown() async {
        let (idle, waiters) = pool.withLock { pool in
            pool.isShutDown = true
            defer {
                pool.idle = []
                pool.waiters = []
            }
            return (pool.idle, pool.waiters)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: Self.shutDownFailure) }
        await withTaskGroup(of: Void.self) { group in
            for connection in idle { group.addTask { await connection.close() } }
        }
    }

    // MARK: The pool

    private static let shutDownFailure = DeliveryFailure.transient("the SMTP client is shut down")

    private var poolSize: Int { max(1, settings.poolSize) }

    /// Waits until fewer than `poolSize` sends are under way.
    private func acquireTurn() async throws {
        let id = pool.withLock { pool in
            pool.nextWaiterID += 1
            return pool.nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready: Result<Void, any Error>? = pool.withLock { pool in
                    if pool.isShutDown { return .failure(Self.shutDownFailure) }
                    // Checked under the lock: a cancellation handler that already ran
                    // found nothing to cancel, so this waiter must not queue up.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if pool.busy < poolSize {
                        pool.busy += 1
                        return .success(())
                    }
                    pool.waiters.append((id, continuation))
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            let waiter = pool.withLock { pool in
                pool.waiters.firstIndex { $0.id == id }.map { pool.waiters.remove(at: $0) }
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Hands the turn to the longest waiting send, and keeps `connection` for later.
    private func endTurn(returning connection: SMTPConnection?) async {
        let (waiter, closing) = pool.withLock { pool -> (CheckedContinuation<Void, any Error>?, SMTPConnection?) in
            var closing: SMTPConnection?
            if let connection {
                if pool.isShutDown { closing = connection } else { pool.idle.append(connection) }
            }
            guard pool.waiters.isEmpty else { return (pool.waiters.removeFirst().continuation, closing) }
            pool.busy -= 1
            return (nil, closing)
        }
        waiter?.resume()
        await closing?.close()
    }

    /// The most recently used idle connection that still answers, or a new one.
    private func leaseConnection() async throws -> SMTPConnection {
        while let idle = pool.withLock({ $0.idle.popLast() }) {
            // Servers close connections idle for a few minutes; a dead one is not a
            // failure of this message, only a reason to open another.
            do {
                if idle.isActive {
                    try await idle.reset()
                    return idle
                }
            } catch {
                logger.debug("SMTP idle connection no longer usable", metadata: ["smtp.failure": "\(error)"])
            }
            idle.abandon()
        }
        if let tlsSetupFailure { throw DeliveryFailure.transient("cannot set up TLS for SMTP: \(tlsSetupFailure)") }
        return try await SMTPConnection.open(settings: settings, tls: tls, logger: logger)
    }

    private static func makeTLSContext(_ verification: SMTPSettings.CertificateVerification) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch verification {
        case .system: break
        case .trusting(let caFile): configuration.trustRoots = .file(caFile)
        case .none: configuration.certificateVerification = .none
        }
        return try NIOSSLContext(configuration: configuration)
    }
}
