import Foundation
import PaymentService
import Platform

/// Who takes the money.
enum PaymentProviderSetting: Sendable, Equatable {
    /// The simulated card network, the embedded default.
    case test
    /// Stripe's API with a secret key, at `apiBase` (a local stand-in in tests).
    case stripe(secretKey: String, apiBase: String, webhookSecret: String?)
}

extension Settings {
    /// `PAYMENTS_PROVIDER` (`test` or `stripe`, with `STRIPE_SECRET_KEY`), the provider's
    /// timeout, the authorization hold, the reconciler's pace and the test network's delays.
    mutating func readPaymentSettings(_ env: EnvironmentReader, serving: Bool) throws(ConfigurationError) {
        // Payments alone is how production runs: the provider is named, never assumed, so a
        // forgotten variable cannot take test cards for real orders.
        if env.string("PAYMENTS_PROVIDER") == nil, service == .payments, serving {
            throw ConfigurationError(variable: "PAYMENTS_PROVIDER", reason: "is required when Payments runs alone: stripe, or test for a test system")
        }
        switch env.string("PAYMENTS_PROVIDER") ?? "test" {
        case "test":
            paymentProvider = .test
        case "stripe":
            guard let key = try Self.secret("STRIPE_SECRET_KEY", env) else {
                throw ConfigurationError(
                    variable: "STRIPE_SECRET_KEY",
                    reason: "(or STRIPE_SECRET_KEY_FILE) is required with PAYMENTS_PROVIDER=stripe"
                )
            }
            let base = env.string("STRIPE_API_BASE") ?? "https://api.stripe.com"
            guard let url = URL(string: base), url.scheme == "https" || url.scheme == "http", url.host != nil else {
                throw ConfigurationError(variable: "STRIPE_API_BASE", reason: "must be an http(s) URL such as https://api.stripe.com")
            }
            let webhookSecret = try Self.secret("STRIPE_WEBHOOK_SECRET", env)
            if webhookSecret == nil, serving, service.runsPayments {
                throw ConfigurationError(
                    variable: "STRIPE_WEBHOOK_SECRET",
                    reason: "(or STRIPE_WEBHOOK_SECRET_FILE) is required with PAYMENTS_PROVIDER=stripe: webhooks are verified with it"
                )
            }
            paymentProvider = .stripe(secretKey: key, apiBase: base, webhookSecret: webhookSecret)
        default:
            throw ConfigurationError(variable: "PAYMENTS_PROVIDER", reason: "must be test or stripe")
        }
        if let milliseconds = try env.int("PAYMENT_PROVIDER_TIMEOUT_MS", in: 100...120_000) { payment.providerTimeout = .milliseconds(milliseconds) }
        if let seconds = try env.int("PAYMENT_AUTHORIZATION_TTL_SECONDS", in: 1...(30 * 86_400)) { payment.authorizationTTL = .seconds(seconds) }
        if let seconds = try env.int("PAYMENT_RECONCILE_AFTER_SECONDS", in: 1...86_400) { payment.reconcileAfter = .seconds(seconds) }
        if let milliseconds = try env.int("PAYMENT_RECONCILE_EVERY_MS", in: 100...3_600_000) { payment.reconcileEvery = .milliseconds(milliseconds) }
        if let seconds = try env.int("PAYMENT_LOST_AFTER_SECONDS", in: 60...86_400) { payment.lostAfter = .seconds(seconds) }
        // A charge may be given up as never received only well after its call timed out.
        guard payment.lostAfter > payment.providerTimeout + .seconds(30) else {
            throw ConfigurationError(variable: "PAYMENT_LOST_AFTER_SECONDS", reason: "must be at least 30 s longer than PAYMENT_PROVIDER_TIMEOUT_MS")
        }
        if let seconds = try env.int("PAYMENT_ACTION_TTL_SECONDS", in: 60...86_400) { payment.actionTTL = .seconds(seconds) }
        testNetworkWebhookSecret = try Self.secret("TEST_NETWORK_WEBHOOK_SECRET", env)
        if let milliseconds = try env.int("TEST_NETWORK_ACTION_DELAY_MS", in: 0...600_000) { testNetworkActionDelay = .milliseconds(milliseconds) }
        if let milliseconds = try env.int("TEST_NETWORK_SLOW_DELAY_MS", in: 0...600_000) { testNetworkSlowDelay = .milliseconds(milliseconds) }
    }

    /// The test network's settings: its slow card answers two seconds after the provider timeout.
    var testNetworkSettings: TestNetwork.Settings {
        TestNetwork.Settings(
            actionDelay: testNetworkActionDelay,
            slowDelay: testNetworkSlowDelay ?? payment.providerTimeout + .seconds(2),
            webhookSecret: testNetworkWebhookSecret ?? Self.randomSecret()
        )
    }

    static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
    }
}
