//! The typed contract between Rust and SQL. Each row that crosses between them has one
//! definition on each side: a composite type, table or view in `sql/schema/`, and a Rust
//! struct declared with [`sql_record!`](crate::sql_record), which records the name and SQL
//! type of every field as the struct itself has them. Each SQL enum likewise has a Rust enum
//! ([`crate::domain`]). `tests/parity.rs` compares both sides, so a renamed key, a new
//! column or a new enum value fails the build's tests, naming the mismatch, instead of
//! turning into NULL on the way.

use chrono::{DateTime, Utc};

/// The SQL type a Rust value stands for, as PostgreSQL's `format_type()` names it (with the
/// schema, outside the `msgpool` search path).
pub trait SqlType {
    const SQL: &'static str;
}

macro_rules! sql_types {
    ($($rust:ty => $sql:literal),+ $(,)?) => {
        $(impl SqlType for $rust { const SQL: &'static str = $sql; })+
    };
}

sql_types!(
    bool => "boolean",
    i32 => "integer",
    i64 => "bigint",
    f64 => "double precision",
    String => "text",
    uuid::Uuid => "uuid",
    DateTime<Utc> => "timestamp with time zone",
    serde_json::Value => "jsonb",
    Vec<i64> => "bigint[]",
    Vec<String> => "text[]",
);

impl<T: SqlType> SqlType for Option<T> {
    const SQL: &'static str = T::SQL;
}

/// A row type with a Rust twin: its SQL name and, per field, the field's name and SQL type.
pub trait Record {
    const SQL_TYPE: &'static str;
    const FIELDS: &'static [(&'static str, &'static str)];
}

/// One record of the contract, for the parity test to compare with the schema.
#[derive(Debug, Clone, Copy)]
pub struct RecordInfo {
    pub sql_type: &'static str,
    pub rust_type: &'static str,
    pub fields: &'static [(&'static str, &'static str)],
}

impl RecordInfo {
    pub fn of<R: Record>() -> RecordInfo {
        RecordInfo {
            sql_type: R::SQL_TYPE,
            rust_type: std::any::type_name::<R>(),
            fields: R::FIELDS,
        }
    }
}

/// Declares a struct that is one row of the SQL type named after the colon, implementing
/// [`Record`] from its own fields: the field list cannot drift from the struct. Fields keep
/// their SQL names (no renames), so serde and sqlx map them as they are.
#[macro_export]
macro_rules! sql_record {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident : $sql:literal {
            $( $(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$field_meta])* $field_vis $field: $ty ),*
        }

        impl $crate::contract::Record for $name {
            const SQL_TYPE: &'static str = $sql;
            const FIELDS: &'static [(&'static str, &'static str)] = &[
                $( (stringify!($field), <$ty as $crate::contract::SqlType>::SQL) ),*
            ];
        }
    };
}

/// A `jsonb` value kept as the database's text, read where it is used: a row this process
/// cannot parse (nested past serde_json's depth limit) fails only where it is read, not the
/// decode of the batch it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(pub String);

impl JsonText {
    pub fn parse(&self) -> Result<serde_json::Value, String> {
        serde_json::from_str(&self.0).map_err(|e| format!("cannot read the JSON: {e}"))
    }
}

impl SqlType for JsonText {
    const SQL: &'static str = "jsonb";
}

impl sqlx::Type<sqlx::Postgres> for JsonText {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <serde_json::Value as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for JsonText {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let binary = matches!(value.format(), sqlx::postgres::PgValueFormat::Binary);
        let bytes = <&[u8] as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        // jsonb's binary form is a version byte, then the text
        let text = match (binary, bytes.split_first()) {
            (true, Some((1, rest))) => rest,
            (true, _) => return Err("jsonb in an unknown binary version".into()),
            (false, _) => bytes,
        };
        Ok(JsonText(std::str::from_utf8(text)?.to_owned()))
    }
}

/// A SQL enum's value as this build reads it: a name it knows, or one a newer schema added.
/// Decoding never fails, so a row naming a value this worker was not built with fails alone
/// where the value is used, not the batch it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known<T> {
    Known(T),
    /// Not one of this build's names.
    Unknown(String),
}

/// A SQL enum's Rust twin, as [`Known`] reads it.
pub trait SqlEnum: Copy + 'static {
    const NAMES: &'static [&'static str];
    const WHAT: &'static str;
    fn as_str(self) -> &'static str;
    fn from_name(name: &str) -> Option<Self>;
}

impl<T: SqlEnum> Known<T> {
    /// The value, or why this worker cannot act on it.
    pub fn get(&self) -> Result<T, String> {
        match self {
            Known::Known(value) => Ok(*value),
            Known::Unknown(name) => Err(format!("unknown {} {name:?}", T::WHAT)),
        }
    }

    /// The name, known or not.
    pub fn as_str(&self) -> &str {
        match self {
            Known::Known(value) => value.as_str(),
            Known::Unknown(name) => name,
        }
    }
}

impl<T: SqlType> SqlType for Known<T> {
    const SQL: &'static str = T::SQL;
}

impl<T: sqlx::Type<sqlx::Postgres>> sqlx::Type<sqlx::Postgres> for Known<T> {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        T::type_info()
    }
    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        T::compatible(ty)
    }
}

impl<'r, T: SqlEnum> sqlx::Decode<'r, sqlx::Postgres> for Known<T> {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let name = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(match T::from_name(name) {
            Some(value) => Known::Known(value),
            None => Known::Unknown(name.to_owned()),
        })
    }
}
