//! The words of the domain as types: a value of one of these is always valid, so code that
//! holds one never re-checks it. Each mirrors a type or domain of the SQL schema.

mod channel;
mod delivery_state;
mod message_state;
mod quiet_action;
mod recipient_key;
mod role;
mod send_policy;
mod type_key;
mod urgency;
mod webhook_flavor;

pub use channel::{Channel, Channels};
pub use delivery_state::DeliveryState;
pub use message_state::MessageState;
pub use quiet_action::QuietAction;
pub use recipient_key::RecipientKey;
pub use role::Role;
pub use send_policy::SendPolicy;
pub use type_key::TypeKey;
pub use urgency::Urgency;
pub use webhook_flavor::WebhookFlavor;

/// Defines a closed set of names that mirrors a PostgreSQL enum: parsing with an error that
/// lists the valid names, `Display`, serde as the plain name, and `TryFrom<String>` so sqlx
/// rows (selected as `::text`) map straight into it.
macro_rules! sql_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim() {
                    $($text => Ok($name::$variant),)+
                    other => Err(crate::Error::invalid(
                        format!("unknown {} {:?}", $what, other),
                        format!("use one of: {}", [$($text),+].join(", ")),
                    )),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = crate::Error;
            fn try_from(s: String) -> Result<Self, Self::Error> { s.parse() }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use sql_enum;

/// Defines a key newtype whose every value matches the SQL domain's format.
macro_rules! sql_key {
    ($(#[$meta:meta])* $name:ident, $what:literal, $is_valid:path, $format_hint:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, crate::Error> {
                if s.len() <= 100 && $is_valid(s) {
                    Ok($name(s.to_owned()))
                } else {
                    Err(crate::Error::invalid(format!("invalid {} {:?}", $what, s), $format_hint))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = crate::Error;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $name::parse(&s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}
pub(crate) use sql_key;
