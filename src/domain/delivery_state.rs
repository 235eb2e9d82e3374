use super::sql_enum;

sql_enum!(
    /// Where a delivery is: `pending` (due at its next attempt), `sending` (leased by a
    /// worker), then `sent`, `dead`, `skipped` or `cancelled`.
    DeliveryState, "delivery state", "msgpool.delivery_state", {
        Pending => "pending", Sending => "sending", Sent => "sent", Dead => "dead",
        Skipped => "skipped", Cancelled => "cancelled"
    }
);
