use super::sql_enum;

sql_enum!(
    /// Where a message is: `pending` (waiting to be expanded), `expanded` (its deliveries
    /// made), or `cancelled`.
    MessageState, "message state", "msgpool.message_state", {
        Pending => "pending", Expanded => "expanded", Cancelled => "cancelled"
    }
);
