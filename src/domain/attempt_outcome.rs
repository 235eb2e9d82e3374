use super::sql_enum;

sql_enum!(
    /// What one attempt at a delivery came to. `throttled`: the provider asked to wait, and
    /// the attempt is not counted.
    AttemptOutcome, "attempt outcome", "msgpool.attempt_outcome", {
        Sent => "sent", Retry => "retry", Dead => "dead", Throttled => "throttled"
    }
);
