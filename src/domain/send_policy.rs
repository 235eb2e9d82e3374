use super::sql_enum;

sql_enum!(
    /// When messages of a type become due: at once, at set times of day, or at most once an
    /// interval.
    SendPolicy, "send policy", "msgpool.send_policy",
    { Immediate => "immediate", TimesOfDay => "times_of_day", Interval => "interval" }
);
