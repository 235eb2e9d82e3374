use super::sql_enum;

sql_enum!(
    /// What quiet hours do to a delivery falling inside them.
    QuietAction, "quiet-hours action",
    { Defer => "defer", Drop => "drop" }
);
