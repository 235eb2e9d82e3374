//! The words of the domain as types: a value of one of these is always valid, so code that
//! holds one never re-checks it. Each mirrors a type or domain of the SQL schema.

use crate::contract::SqlType as _;

mod attempt_outcome;
mod channel;
mod console_role;
mod delivery_state;
mod message_state;
mod quiet_action;
mod recipient_key;
mod role;
mod send_policy;
mod type_key;
mod urgency;
mod webhook_flavor;

pub use attempt_outcome::AttemptOutcome;
pub use channel::{Channel, Channels};
pub use console_role::ConsoleRole;
pub use delivery_state::DeliveryState;
pub use message_state::MessageState;
pub use quiet_action::QuietAction;
pub use recipient_key::RecipientKey;
pub use role::Role;
pub use send_policy::SendPolicy;
pub use type_key::TypeKey;
pub use urgency::Urgency;
pub use webhook_flavor::WebhookFlavor;

/// Defines a closed set of names: parsing with an error that lists the valid names,
/// `Display`, serde as the plain name, and `TryFrom<String>`.
macro_rules! name_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const NAMES: &'static [&'static str] = &[$($text),+];

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
pub(crate) use name_enum;

/// A [`name_enum!`] that mirrors a PostgreSQL enum (named like `msgpool.channel`): it binds
/// and decodes as that enum, and the parity test holds its names to `enum_range()`.
macro_rules! sql_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, $sql:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        crate::domain::name_enum!($(#[$meta])* $name, $what, { $($variant => $text),+ });

        impl crate::contract::SqlType for $name {
            const SQL: &'static str = $sql;
        }

        impl crate::contract::SqlEnum for $name {
            const NAMES: &'static [&'static str] = $name::NAMES;
            const WHAT: &'static str = $what;
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
            fn from_name(name: &str) -> Option<Self> {
                match name { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                sqlx::postgres::PgTypeInfo::with_name($sql)
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                crate::domain::is_text_like(ty)
            }
        }

        impl crate::contract::SqlType for Vec<$name> {
            const SQL: &'static str = concat!($sql, "[]");
        }

        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                sqlx::postgres::PgTypeInfo::array_of($sql)
            }
            fn array_compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                match ty.kind() {
                    sqlx::postgres::PgTypeKind::Array(element) => crate::domain::is_text_like(element),
                    _ => <&str as sqlx::postgres::PgHasArrayType>::array_compatible(ty),
                }
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }
    };
}
pub(crate) use sql_enum;

/// Whether a column of this type reads as text: text itself, an enum (whose binary form is
/// its label) or a domain over text.
pub(crate) fn is_text_like(ty: &sqlx::postgres::PgTypeInfo) -> bool {
    use sqlx::postgres::PgTypeKind;
    <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
        || match ty.kind() {
            PgTypeKind::Enum(_) => true,
            PgTypeKind::Domain(base) => is_text_like(base),
            _ => false,
        }
}

/// Every SQL enum of the schema with its Rust twin: (SQL type, the Rust enum's names).
pub const SQL_ENUMS: &[(&str, &[&str])] = &[
    (Urgency::SQL, Urgency::NAMES),
    (Channel::SQL, Channel::NAMES),
    (WebhookFlavor::SQL, WebhookFlavor::NAMES),
    (SendPolicy::SQL, SendPolicy::NAMES),
    (MessageState::SQL, MessageState::NAMES),
    (DeliveryState::SQL, DeliveryState::NAMES),
    (AttemptOutcome::SQL, AttemptOutcome::NAMES),
    (QuietAction::SQL, QuietAction::NAMES),
    (ConsoleRole::SQL, ConsoleRole::NAMES),
];

/// Defines a key newtype whose every value matches the SQL domain's format.
macro_rules! sql_key {
    ($(#[$meta:meta])* $name:ident, $what:literal, $sql:literal, $is_valid:path, $format_hint:literal) => {
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

        impl crate::contract::SqlType for $name {
            const SQL: &'static str = $sql;
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                crate::domain::is_text_like(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                Ok($name::parse(text)?)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }
    };
}
pub(crate) use sql_key;
