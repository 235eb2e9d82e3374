//! Pieces of URLs msgpool builds: a provider's signed query (Aliyun), an inbox link.

/// RFC 3986 percent-encoding: only A-Z a-z 0-9 - _ . ~ stay as they are (what Aliyun's
/// signature wants, and safe in any path segment or query value).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            percent_encode("a b*~-_./=&+派"),
            "a%20b%2A~-_.%2F%3D%26%2B%E6%B4%BE"
        );
    }
}
