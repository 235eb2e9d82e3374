use super::sql_enum;

sql_enum!(
    /// What quiet hours do to a delivery falling inside them.
    QuietAction, "quiet-hours action", "msgpool.quiet_action",
    { Defer => "defer", Drop => "drop" }
);
