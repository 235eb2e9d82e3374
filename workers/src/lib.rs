//! msgpool's workers. The queue's rules live in stored functions (`sql/schema/05_delivery.sql`);
//! this crate moves rows between them and the providers. Where a delivery goes, by file:
//!
//! - [`dispatcher`]: expands due messages into deliveries (`msgpool.dispatch`) and LISTENs;
//! - [`woken`]: the woken path, an idle worker's dispatch-and-claim in one round trip;
//! - [`queue`] and [`claim`]: the busy path, each channel's claims (`msgpool.claim_deliveries`);
//! - [`backend`]: the apalis backend that streams a queue's deliveries to send slots;
//! - [`destinations`]: each provider's share of the sends in flight (adaptive), its pauses,
//!   and its figures, reported to the database and served at `/metrics` ([`metrics`]);
//! - [`deliver`]: render and send one delivery through its [`channels`] module;
//! - [`outcomes`]: outcomes written in batches under their lease tokens;
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
pub mod dispatcher;
pub mod housekeeping;
pub mod leases;
pub mod metrics;
pub mod outcomes;
pub mod queue;
mod run;
pub mod woken;

pub use config::WorkerConfig;
pub use run::run;
