use super::sql_enum;
use crate::Error;

sql_enum!(
    /// A way of telling someone: the in-site inbox, email, SMS or a chat webhook.
    Channel, "channel", "msgpool.channel", { Inbox => "inbox", Email => "email", Sms => "sms", Webhook => "webhook" }
);

/// A non-empty set of channels, in the canonical order, as a message type or a subscription
/// holds them. Parses from `inbox,email`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Channels(Vec<Channel>);

impl Channels {
    pub fn new(channels: impl IntoIterator<Item = Channel>) -> Result<Self, Error> {
        let mut channels: Vec<Channel> = channels.into_iter().collect();
        channels.sort();
        channels.dedup();
        if channels.is_empty() {
            return Err(Error::invalid(
                "no channels given",
                "name at least one of: inbox, email, sms, webhook",
            ));
        }
        Ok(Channels(channels))
    }

    pub fn iter(&self) -> impl Iterator<Item = Channel> + '_ {
        self.0.iter().copied()
    }

    /// The names, for binding as `text[]` and casting to `msgpool.channel[]` in SQL.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|c| c.as_str()).collect()
    }
}

impl std::str::FromStr for Channels {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Channels::new(
            s.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(str::parse)
                .collect::<Result<Vec<_>, _>>()?,
        )
    }
}

impl TryFrom<Vec<String>> for Channels {
    type Error = Error;
    fn try_from(names: Vec<String>) -> Result<Self, Error> {
        Channels::new(
            names
                .iter()
                .map(|n| n.parse())
                .collect::<Result<Vec<_>, _>>()?,
        )
    }
}

impl std::fmt::Display for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_comma_list_in_canonical_order_without_repeats() {
        let channels: Channels = "webhook, email,inbox,email".parse().expect("valid list");
        assert_eq!(channels.to_string(), "inbox,email,webhook");
    }

    #[test]
    fn refuses_unknown_and_empty() {
        let err = "inbox,fax"
            .parse::<Channels>()
            .expect_err("fax is no channel");
        assert!(err.to_string().contains("fax"), "{err}");
        assert!(",".parse::<Channels>().is_err());
    }
}
