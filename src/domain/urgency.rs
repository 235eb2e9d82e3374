use super::sql_enum;

sql_enum!(
    /// How urgent a message is; ordered, so `urgency < Urgency::Urgent` reads as it should.
    /// Urgent messages go out at once on every channel, never held by windows.
    Urgency, "urgency", "msgpool.urgency", { Low => "low", Normal => "normal", High => "high", Urgent => "urgent" }
);
