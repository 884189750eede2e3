/** What the seed documents' tests share: the timestamp shape they show and the send reference's example. */

/** An RFC 3339 UTC timestamp as the seeds print them (`2026-06-10T14:22:10Z`, fractions allowed). */
export const SEED_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The send reference's "Example" request body, verbatim but for the target host (your-app.com:<port>). */
export const SEND_REFERENCE_EXAMPLE = (port: number) => `{
    "target": "https://your-app.com:${port}/webhook",
    "body": { "event": "order.paid", "id": "ord_123" },
    "idempotency_key": "ord_123-paid",
    "delivery": { "max_attempts": 8, "base_delay_ms": 2000 }
  }`;
