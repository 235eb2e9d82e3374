//! msgpool's workers. The queue's rules live in stored functions (`sql/schema/05_delivery.sql`);
//! this crate moves rows between them and the providers. Where a delivery goes, by file:
//!
//! - [`expand`]: expands due messages into deliveries (`msgpool.expand`);
//! - [`woken`]: how an idle worker waits (LISTEN) and, woken, expands and claims in one trip;
//! - [`queue`] and [`claim`]: the busy path, each channel's claims (`msgpool.claim_deliveries`);
//! - [`backend`]: the apalis backend that streams a queue's claims to send slots;
//! - [`destinations`]: each provider's share of the sends in flight (adaptive), its pauses,
//!   and its figures, reported to the database and served at `/metrics` ([`metrics`]);
//! - [`deliver`]: one claim rendered (`msgpool::render`) and [`send`] through its [`channels`]
//!   module;
//! - [`outcomes`]: what each attempt came to, written in batches under its lease token;
//! - [`leases`]: heartbeats for claimed work; [`housekeeping`]: pruning old history;
//! - `run`: one process of all of the above, supervised, with a graceful stop;
//! - [`config`] and [`defaults`]: how a worker runs, and every setting's default.

pub mod backend;
pub mod channels;
pub mod claim;
pub mod config;
pub mod defaults;
pub mod deliver;
pub mod destinations;
pub mod expand;
pub mod housekeeping;
pub mod leases;
pub mod metrics;
pub mod outcomes;
pub mod queue;
mod run;
pub mod send;
pub mod woken;

pub use config::WorkerConfig;
pub use run::run;

/// The records of the SQL contract this crate maps, for the parity test.
pub fn records() -> Vec<msgpool::contract::RecordInfo> {
    use msgpool::contract::RecordInfo;
    vec![
        RecordInfo::of::<claim::ClaimedDelivery>(),
        RecordInfo::of::<outcomes::record::OutcomeRecord>(),
        RecordInfo::of::<outcomes::record::InboxItem>(),
        RecordInfo::of::<destinations::report::DestinationFigures>(),
    ]
}
