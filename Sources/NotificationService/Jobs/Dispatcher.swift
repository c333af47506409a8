import Crypto
import Foundation
import Logging
import Platform
import ServiceLifecycle

/// Sends what the consumer queued: claims due notifications (and ones a crashed sender
/// left mid-send), renders and sends each on its channel, a few at a time, and records
/// every attempt. A failure that may pass is tried again later; the last one, or one that
/// cannot pass, leaves the notification `dead` for an admin to replay.
///
/// Sending is at least once: a sender killed after the server took a message but before
/// the log says so sends it again after its lease. The repeat carries the same
/// `Message-ID` (e-mail) or `webhook-id` (webhooks), by which receivers drop it.
struct Dispatcher: Sendable {
    struct Settings: Sendable {
        var from: MailAddress
        var shopName: String
        /// Where the public API is reached, for one-click unsubscribe links; none without it.
        var publicBaseURL: String?
        /// Signs unsubscribe tokens.
        var unsubscribeKey: SymmetricKey
        /// How long a claimed notification is the sender's before another may take it: longer
        /// than any one send can take (with its wait for a connection), or two instances
        /// could send it.
        var lease: Duration = .seconds(300)
        /// Sends in flight at once, and so the size of each claim: a claimed row is sent at
        /// once, never left waiting behind others while its lease runs.
        var concurrency = 8
        /// E-mail: 30 s, 1, 2, 5, 10 and 30 min, then 1, 2 and 4 h: ten attempts over about 8 hours.
        var emailRetry = WebhookRetrySchedule(
            waits: [30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400].map { .seconds($0) },
            jitter: 0.2
        )
        /// Webhooks: Standard Webhooks' schedule, over about a day, and endpoints turned off
        /// after failing every delivery for 5 days.
        var webhookRetry = WebhookRetrySchedule()
    }

    let store: NotificationStore
    let endpoints: WebhookEndpointStore
    let contacts: ContactStore
    let templates: TemplateLibrary
    let mail: any MailTransport
    let webhooks: (any WebhookTransport)?
    let sms: any SMSTransport
    let push: any PushTransport
    let codes: VerificationCode
    let settings: Settings
    let metrics: ShopMetrics?
    let logger: Logger
    let now: @Sendable () -> Date

    /// Sends every notification that is due, batch after batch; returns how many it tried.
    @discardableResult
    func dispatchDue() async throws -> Int {
        var tried = 0
        while true {
            let start = now()
            let claimed = try await store.claimDue(now: start, until: start.addingTimeInterval(settings.lease.seconds), limit: settings.concurrency)
            tried += claimed.count
            await withTaskGroup(of: Void.self) { group in
                var pending = claimed.makeIterator()
                for _ in 0..<settings.concurrency {
                    guard let next = pending.next() else { break }
                    group.addTask { await deliver(next) }
                }
                while await group.next() != nil {
                    if let next = pending.next() { group.addTask { await deliver(next) } }
                }
            }
            // A graceful stop takes nothing more: what was claimed is finished and recorded.
            if claimed.count < settings.concurrency || Task.isShuttingDownGracefully { return tried }
        }
    }

    /// One attempt at `notification`, and its record.
    func deliver(_ notification: NotificationRecord) async {
        let started = now()
        let clock = ContinuousClock.now
        var subject: String?
        let outcome: Result<String, DeliveryFailure>
        do {
            switch notification.channel {
            case .email:
                let (answer, rendered) = try await sendEmail(notification, at: started)
                subject = rendered
                outcome = .success(answer)
            case .webhook:
                outcome = .success(try await sendWebhook(notification, at: started))
            case .sms:
                outcome = .success(try await sendSMS(notification))
            case .push:
                outcome = .success(try await sendPush(notification))
            }
        } catch let failure as DeliveryFailure {
            outcome = .failure(failure)
        } catch let invalid as InvalidValue {
            // The message cannot be made (an address or a template that is not valid): no
            // attempt later can do better until someone fixes it and replays it.
            outcome = .failure(.permanent("the message cannot be made: \(invalid.reason)"))
        } catch {
            outcome = .failure(.transient("\(error)"))
        }
        let finished = now()
        let schedule = notification.channel == .webhook ? settings.webhookRetry : settings.emailRetry
        var retryAt: Date?
        if case .failure(let failure) = outcome, failure.kind == .transient {
            var random = SystemRandomNumberGenerator()
            retryAt = schedule.nextAttempt(after: notification.attempts - notification.roundStart, from: finished, random: &random)
        }
        do {
            let status = try await store.record(
                notification,
                startedAt: started,
                finishedAt: finished,
                outcome: outcome,
                retryAt: retryAt,
                subject: subject
            )
            if notification.channel == .webhook, status != nil {
                try await noteEndpoint(notification, outcome: outcome, at: finished)
            }
            if status != nil, case .failure(let failure) = outcome, failure.kind == .gone {
                try await forgetGone(notification, at: finished)
            }
            if let status {
                let label = status == .sent ? "sent" : status == .retrying ? "retried" : "dead"
                metrics?.recordNotification(
                    channel: notification.channel.rawValue,
                    kind: notification.channel == .webhook ? "webhook" : notification.kind,
                    outcome: label,
                    duration: ContinuousClock.now - clock
                )
                if status == .sent {
                    metrics?.recordNotificationLatency(
                        channel: notification.channel.rawValue,
                        seconds: finished.timeIntervalSince(notification.createdAt)
                    )
                }
                if status == .dead, case .failure(let failure) = outcome {
                    logger.warning(
                        "notification dead",
                        metadata: ["notification": "\(notification.id)", "channel": "\(notification.channel.rawValue)", "reason": "\(failure)"]
                    )
                }
            }
        } catch {
            // The lease brings it back; the receiver drops the repeat by its id.
            logger.warning("could not record a notification's attempt", metadata: ["notification": "\(notification.id)", "error": "\(error)"])
        }
    }

    /// Renders and sends an e-mail; returns the server's answer and the subject.
    func sendEmail(_ notification: NotificationRecord, at date: Date) async throws -> (answer: String, subject: String) {
        guard let kind = NotificationKind(rawValue: notification.kind) else {
            throw DeliveryFailure.permanent("no template for \(notification.kind)")
        }
        var context = try MessageContext.decoded(notification.data)
        context.shopName = settings.shopName
        var headers: [(name: String, value: String)] = []
        if kind.topic.canUnsubscribe, let userID = notification.userID, let base = settings.publicBaseURL {
            let token = UnsubscribeToken(userID: userID, topic: kind.topic).signed(with: settings.unsubscribeKey)
            let link = base + "/api/v1/unsubscribe?token=" + token
            context.unsubscribeURL = link
            // RFC 8058: a mail client may offer one click, which POSTs to the link.
            headers = [("List-Unsubscribe", "<\(link)>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
        }
        let rendered = try templates.render(kind, locale: notification.locale, context: context)
        let message = try MailMessage(
            from: settings.from,
            to: try MailAddress(notification.target, displayName: context.name),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            messageID: notification.id + "@" + (settings.from.address.split(separator: "@").last.map(String.init) ?? "localhost"),
            date: date,
            extraHeaders: headers
        )
        return (try await mail.send(message), rendered.subject)
    }

    /// Renders and sends an SMS to the number it was queued for, while that number is still
    /// the user's and usable (a verification code while it is still the pending one).
    func sendSMS(_ notification: NotificationRecord) async throws -> String {
        guard let kind = NotificationKind(rawValue: notification.kind), let userID = notification.userID else {
            throw DeliveryFailure.permanent("no SMS for \(notification.kind)")
        }
        var context = try MessageContext.decoded(notification.data)
        context.shopName = settings.shopName
        if kind == .phoneVerification {
            guard let nonce = context.verificationNonce,
                try await contacts.isPending(userID: userID, number: notification.target, nonce: nonce, at: now())
            else { throw DeliveryFailure.permanent("the code was used, replaced or expired before it could be sent") }
            context.code = codes.code(userID: userID, phone: notification.target, nonce: nonce)
        } else {
            guard let phone = try await contacts.phone(userID: userID), phone.number == notification.target, phone.usable else {
                throw DeliveryFailure.permanent("the number was removed, changed or stopped")
            }
        }
        let body = try templates.renderSMS(kind, locale: notification.locale, context: context)
        return try await sms.send(SMSMessage(id: notification.id, to: notification.target, body: body))
    }

    /// Renders and sends a push to the device it was queued for, while it is registered.
    func sendPush(_ notification: NotificationRecord) async throws -> String {
        guard let kind = NotificationKind(rawValue: notification.kind) else {
            throw DeliveryFailure.permanent("no push for \(notification.kind)")
        }
        guard let device = try await contacts.device(id: notification.target), device.userID == notification.userID else {
            throw DeliveryFailure.permanent("the device was removed")
        }
        var context = try MessageContext.decoded(notification.data)
        context.shopName = settings.shopName
        let rendered = try templates.renderPush(kind, locale: notification.locale, context: context)
        var data = ["kind": kind.rawValue]
        if let orderID = notification.orderID { data["order_id"] = orderID }
        return try await push.send(
            PushMessage(id: notification.id, deviceToken: device.token, title: rendered.title, body: rendered.body, data: data)
        )
    }

    /// A number that replied STOP is not written to again; a token the push service no
    /// longer knows is forgotten.
    private func forgetGone(_ notification: NotificationRecord, at date: Date) async throws {
        switch notification.channel {
        case .sms:
            guard let userID = notification.userID else { return }
            try await contacts.stopPhone(userID: userID, number: notification.target, at: date)
            logger.notice("phone number stopped by its owner", metadata: ["user": "\(userID)"])
        case .push:
            try await contacts.deleteDevice(id: notification.target)
            logger.notice("push device forgotten: its token is no longer registered", metadata: ["device": "\(notification.target)"])
        case .email, .webhook:
            break
        }
    }

    func sendWebhook(_ notification: NotificationRecord, at date: Date) async throws -> String {
        guard let webhooks else { throw DeliveryFailure.permanent("webhooks are not configured in this process") }
        guard let endpoint = try await endpoints.endpoint(id: notification.target) else {
            throw DeliveryFailure.permanent("the endpoint was deleted")
        }
        guard endpoint.enabled else { throw DeliveryFailure.permanent("the endpoint is disabled: \(endpoint.disabledReason ?? "")") }
        return try await webhooks.send(
            WebhookDelivery(
                id: notification.id,
                url: endpoint.url,
                eventType: notification.kind,
                body: Array(notification.data.utf8),
                secret: endpoint.secret
            ),
            at: date
        )
    }

    private func noteEndpoint(_ notification: NotificationRecord, outcome: Result<String, DeliveryFailure>, at date: Date) async throws {
        let gone: Bool
        switch outcome {
        case .success:
            try await endpoints.noteDelivery(
                endpointID: notification.target,
                succeeded: true,
                gone: false,
                disableAfter: settings.webhookRetry.disableAfter,
                at: date
            )
            return
        case .failure(let failure):
            gone = failure.kind == .gone
        }
        let disabled = try await endpoints.noteDelivery(
            endpointID: notification.target,
            succeeded: false,
            gone: gone,
            disableAfter: settings.webhookRetry.disableAfter,
            at: date
        )
        if disabled { logger.warning("webhook endpoint disabled", metadata: ["endpoint": "\(notification.target)"]) }
    }
}

/// Sends one signed webhook; ``WebhookSender`` over HTTP.
protocol WebhookTransport: Sendable {
    func send(_ delivery: WebhookDelivery, at timestamp: Date) async throws -> String
}

extension WebhookSender: WebhookTransport {}
