use super::sql_key;

sql_key!(
    /// A message type's developer-facing key, e.g. `order.dispatch_backlog`: dotted words of
    /// lowercase letters, digits and `_`, each starting with a letter (SQL domain
    /// `msgpool.type_key`).
    TypeKey,
    "message type key",
    "msgpool.type_key",
    is_valid,
    "use dotted lowercase words, e.g. order.dispatch_backlog or server.down"
);

fn is_valid(s: &str) -> bool {
    s.split('.').all(|word| {
        let mut chars = word.chars();
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::TypeKey;

    #[test]
    fn accepts_dotted_lowercase_words() {
        for key in ["server.down", "order.dispatch_backlog", "a", "a1.b_2.c"] {
            assert!(TypeKey::parse(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn refuses_anything_else() {
        for key in [
            "",
            "Server.down",
            "server..down",
            ".down",
            "server.",
            "1server",
            "server.down!",
            "server-down",
        ] {
            assert!(TypeKey::parse(key).is_err(), "{key}");
        }
        assert!(TypeKey::parse(&"a".repeat(101)).is_err());
    }
}
