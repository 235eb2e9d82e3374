use super::name_enum;

name_enum!(
    /// One of msgpool's group roles: what a login role may do with the pool
    /// (`msgpool_producer`, `msgpool_worker`, `msgpool_inbox`, `msgpool_admin`, and
    /// `msgpool_console`, the console's: an administrator that names the console user it
    /// acts for).
    Role, "role", {
        Producer => "producer", Worker => "worker", Inbox => "inbox", Admin => "admin",
        Console => "console"
    }
);

impl Role {
    /// The group role in the database, e.g. `msgpool_producer`.
    pub fn group(self) -> String {
        format!("msgpool_{}", self.as_str())
    }

    /// The login role msgpool creates for it, e.g. `msgpool_producer_login`.
    pub fn login(self) -> String {
        format!("msgpool_{}_login", self.as_str())
    }
}
