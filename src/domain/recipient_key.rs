use super::sql_key;

sql_key!(
    /// A recipient's or a group's key, an id from the business side such as `zhang.san`,
    /// `ops-robot` or `E1001`: letters, digits and `._@-`, starting with a letter or digit
    /// (SQL domain `msgpool.recipient_key`).
    RecipientKey,
    "recipient or group key",
    "msgpool.recipient_key",
    is_valid,
    "use letters, digits and . _ @ -, starting with a letter or digit, e.g. zhang.san"
);

fn is_valid(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
}

#[cfg(test)]
mod tests {
    use super::RecipientKey;

    #[test]
    fn accepts_business_ids() {
        for key in ["zhang.san", "ops-robot", "E1001", "li_si@hq"] {
            assert!(RecipientKey::parse(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn refuses_anything_else() {
        for key in ["", "-x", ".x", "张三", "a b", "a/b"] {
            assert!(RecipientKey::parse(key).is_err(), "{key}");
        }
    }
}
