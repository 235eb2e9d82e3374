use super::sql_enum;

sql_enum!(
    /// What a console user may do: `viewer` reads; `operator` also retries and cancels;
    /// `admin` also configures. Ordered, so `role >= ConsoleRole::Operator` reads as it should.
    ConsoleRole, "console role", "msgpool.console_role", {
        Viewer => "viewer", Operator => "operator", Admin => "admin"
    }
);
