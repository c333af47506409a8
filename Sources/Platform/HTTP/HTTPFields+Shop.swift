public import HTTPTypes

extension HTTPField.Name {
    /// `X-Request-ID`, in and out.
    public static let xRequestID = HTTPField.Name("X-Request-ID")!
    /// `Idempotency-Key`, on POSTs that create something or move money.
    public static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// `Stripe-Signature`, on provider webhooks (the test network signs the same way).
    public static let stripeSignature = HTTPField.Name("Stripe-Signature")!
    /// `X-Cart-Token`: opens a guest cart (`<cart id>.<secret>`).
    public static let xCartToken = HTTPField.Name("X-Cart-Token")!
}
