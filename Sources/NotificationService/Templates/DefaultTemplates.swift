/// The templates shipped in the binary, by `<kind>.<locale>.<part>` (`subject`, `text`,
/// `html`, `sms`, `push_title`, `push_body`); files in `TEMPLATES_DIR` with the same names take their place. English is the
/// fallback of every kind; German proves the choice by locale.
enum DefaultTemplates {
    static let all: [String: String] = [
        "welcome.en.subject": "Welcome to {{shop_name}}, {{name}}",
        "welcome.en.text": """
        Hello {{name}},

        your account at {{shop_name}} is ready. You sign in with {{email}}.

        Happy shopping!
        """,
        "welcome.en.html": """
        <p>Hello {{name}},</p>
        <p>your account at {{shop_name}} is ready. You sign in with <strong>{{email}}</strong>.</p>
        <p>Happy shopping!</p>
        """,
        "welcome.de.subject": "Willkommen bei {{shop_name}}, {{name}}",
        "welcome.de.text": """
        Hallo {{name}},

        Ihr Konto bei {{shop_name}} ist bereit. Sie melden sich mit {{email}} an.

        Viel Freude beim Einkaufen!
        """,
        "welcome.de.html": """
        <p>Hallo {{name}},</p>
        <p>Ihr Konto bei {{shop_name}} ist bereit. Sie melden sich mit <strong>{{email}}</strong> an.</p>
        <p>Viel Freude beim Einkaufen!</p>
        """,

        "order_confirmed.en.subject": "Your order {{order_id}} is confirmed",
        "order_confirmed.en.text": """
        Thank you for your order {{order_id}}.

        {{#lines}}
        {{quantity}} x {{name}} ({{sku}})  {{unit_price}}  = {{line_total}}
        {{/lines}}

        Subtotal: {{subtotal}}
        Total: {{total}}

        We will write again when it ships.
        """,
        "order_confirmed.en.html": """
        <p>Thank you for your order <strong>{{order_id}}</strong>.</p>
        <table>
        {{#lines}}
        <tr><td>{{quantity}} ×</td><td>{{name}} ({{sku}})</td><td>{{unit_price}}</td><td>{{line_total}}</td></tr>
        {{/lines}}
        </table>
        <p>Subtotal: {{subtotal}}<br>Total: <strong>{{total}}</strong></p>
        <p>We will write again when it ships.</p>
        """,
        "order_confirmed.de.subject": "Ihre Bestellung {{order_id}} ist bestätigt",
        "order_confirmed.de.text": """
        Vielen Dank für Ihre Bestellung {{order_id}}.

        {{#lines}}
        {{quantity}} x {{name}} ({{sku}})  {{unit_price}}  = {{line_total}}
        {{/lines}}

        Zwischensumme: {{subtotal}}
        Gesamt: {{total}}

        Wir schreiben Ihnen wieder, sobald sie versandt ist.
        """,
        "order_confirmed.de.html": """
        <p>Vielen Dank für Ihre Bestellung <strong>{{order_id}}</strong>.</p>
        <table>
        {{#lines}}
        <tr><td>{{quantity}} ×</td><td>{{name}} ({{sku}})</td><td>{{unit_price}}</td><td>{{line_total}}</td></tr>
        {{/lines}}
        </table>
        <p>Zwischensumme: {{subtotal}}<br>Gesamt: <strong>{{total}}</strong></p>
        <p>Wir schreiben Ihnen wieder, sobald sie versandt ist.</p>
        """,

        "order_shipped.en.subject": "Your order {{order_id}} is on its way",
        "order_shipped.en.text": """
        Your order {{order_id}} has shipped.
        {{#tracking_number}}
        Tracking number: {{tracking_number}}{{#carrier}} ({{carrier}}){{/carrier}}
        {{/tracking_number}}
        """,
        "order_shipped.en.html": """
        <p>Your order <strong>{{order_id}}</strong> has shipped.</p>
        {{#tracking_number}}<p>Tracking number: {{tracking_number}}{{#carrier}} ({{carrier}}){{/carrier}}</p>{{/tracking_number}}
        """,
        "order_shipped.de.subject": "Ihre Bestellung {{order_id}} ist unterwegs",
        "order_shipped.de.text": """
        Ihre Bestellung {{order_id}} wurde versandt.
        {{#tracking_number}}
        Sendungsnummer: {{tracking_number}}{{#carrier}} ({{carrier}}){{/carrier}}
        {{/tracking_number}}
        """,
        "order_shipped.de.html": """
        <p>Ihre Bestellung <strong>{{order_id}}</strong> wurde versandt.</p>
        {{#tracking_number}}<p>Sendungsnummer: {{tracking_number}}{{#carrier}} ({{carrier}}){{/carrier}}</p>{{/tracking_number}}
        """,

        "order_cancelled.en.subject": "Your order {{order_id}} was cancelled",
        "order_cancelled.en.text": """
        Your order {{order_id}} was cancelled.{{#reason}} Reason: {{reason}}{{/reason}}
        {{#amount_refunded}}
        {{amount_refunded}} goes back to your payment method.
        {{/amount_refunded}}
        """,
        "order_cancelled.en.html": """
        <p>Your order <strong>{{order_id}}</strong> was cancelled.{{#reason}} Reason: {{reason}}{{/reason}}</p>
        {{#amount_refunded}}<p>{{amount_refunded}} goes back to your payment method.</p>{{/amount_refunded}}
        """,

        "order_refunded.en.subject": "A refund for your order {{order_id}}",
        "order_refunded.en.text": """
        We refunded {{amount_refunded}} of {{total}} for your order {{order_id}}.{{#reason}} Reason: {{reason}}{{/reason}}
        """,
        "order_refunded.en.html": """
        <p>We refunded <strong>{{amount_refunded}}</strong> of {{total}} for your order {{order_id}}.{{#reason}} Reason: {{reason}}{{/reason}}</p>
        """,

        "payment_failed.en.subject": "The payment for your order {{order_id}} did not go through",
        "payment_failed.en.text": """
        The payment of {{total}} for your order {{order_id}} did not go through{{#failure_message}}: {{failure_message}}{{/failure_message}}.
        Your cart is kept: you can pay with another method.
        """,
        "payment_failed.en.html": """
        <p>The payment of {{total}} for your order <strong>{{order_id}}</strong> did not go through{{#failure_message}}: {{failure_message}}{{/failure_message}}.</p>
        <p>Your cart is kept: you can pay with another method.</p>
        """,

        "low_stock.en.subject": "Low stock: product {{product_id}} has {{available}} left",
        "low_stock.en.text": """
        Product {{product_id}} has {{available}} units available, under its threshold of {{threshold}}.
        """,
        "low_stock.en.html": """
        <p>Product <strong>{{product_id}}</strong> has {{available}} units available, under its threshold of {{threshold}}.</p>
        """,

        // SMS: short, one message of 160 characters where the values allow.
        "phone_verification.en.sms": "{{code}} is your {{shop_name}} verification code. It expires in 10 minutes.",
        "phone_verification.de.sms": "{{code}} ist Ihr Bestätigungscode für {{shop_name}}. Er ist 10 Minuten gültig.",
        "order_shipped.en.sms":
            "{{shop_name}}: order {{order_id}} is on its way.{{#tracking_number}} Tracking: {{tracking_number}}{{#carrier}} ({{carrier}}){{/carrier}}{{/tracking_number}}",
        "order_shipped.de.sms":
            "{{shop_name}}: Bestellung {{order_id}} ist unterwegs.{{#tracking_number}} Sendungsnummer: {{tracking_number}}{{#carrier}} ({{carrier}}){{/carrier}}{{/tracking_number}}",
        "payment_failed.en.sms": "{{shop_name}}: the payment for order {{order_id}} did not go through. Please try another payment method.",

        // Push: a title and a line, what a lock screen shows.
        "order_confirmed.en.push_title": "Order confirmed",
        "order_confirmed.en.push_body": "Your order {{order_id}} of {{total}} is confirmed.",
        "order_confirmed.de.push_title": "Bestellung bestätigt",
        "order_confirmed.de.push_body": "Ihre Bestellung {{order_id}} über {{total}} ist bestätigt.",
        "order_shipped.en.push_title": "On its way",
        "order_shipped.en.push_body": "Order {{order_id}} has shipped.{{#tracking_number}} Tracking: {{tracking_number}}{{/tracking_number}}",
        "order_shipped.de.push_title": "Unterwegs",
        "order_shipped.de.push_body":
            "Bestellung {{order_id}} ist versandt.{{#tracking_number}} Sendungsnummer: {{tracking_number}}{{/tracking_number}}",
        "order_cancelled.en.push_title": "Order cancelled",
        "order_cancelled.en.push_body": "Your order {{order_id}} was cancelled.",
        "order_refunded.en.push_title": "Refund on its way",
        "order_refunded.en.push_body": "{{amount_refunded}} of order {{order_id}} is being refunded.",
        "payment_failed.en.push_title": "Payment failed",
        "payment_failed.en.push_body": "The payment for order {{order_id}} did not go through. Tap to try another method.",
    ]
}
