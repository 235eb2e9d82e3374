//! msgpool: a message pool that lives inside PostgreSQL.
//!
//! Producers put messages into `msgpool.message` with `msgpool.send()` or a plain INSERT;
//! workers expand them into deliveries and deliver them to the in-site inbox, email, SMS and
//! chat webhooks. This library holds what the CLI and the workers share: the database
//! connection (an existing server or the embedded default), migrations, the domain types,
//! templates, and thin typed wrappers over the SQL API in `sql/`. The channels belong to
//! the workers (`msgpool-workers`).

pub mod activity;
pub mod admin;
pub mod audit;
pub mod cancel;
pub mod contract;
pub mod database;
pub mod db;
pub mod deliveries;
pub mod domain;
pub mod embedded;
pub(crate) mod error;
pub mod inbox;
pub mod inbox_link;
pub mod migrations;
pub mod render;
pub mod retention;
pub mod send;
pub mod status;
pub mod url;

pub use database::Database;
pub use db::Db;
pub use error::{Error, INVARIANTS, REFUSALS, Refusal, Result};

/// The records of the SQL contract this library maps, for the parity test.
pub fn records() -> Vec<contract::RecordInfo> {
    vec![
        contract::RecordInfo::of::<admin::subscriptions::SubscriptionEntry>(),
        contract::RecordInfo::of::<inbox::InboxEntry>(),
    ]
}
