use super::sql_enum;

sql_enum!(
    /// Where a message is: `pending` (waiting to be expanded), `dispatched` (expanded into
    /// deliveries), `cancelled`, or `dead` (it could not be expanded).
    MessageState, "message state", {
        Pending => "pending", Dispatched => "dispatched", Cancelled => "cancelled", Dead => "dead"
    }
);
