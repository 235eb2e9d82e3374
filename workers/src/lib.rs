//! msgpool's workers. The queue rules live in stored functions (`sql/V8__dispatch.sql`);
//! this crate runs them: the dispatcher expands due messages into deliveries, and per channel
//! an apalis worker takes leased deliveries from [`backend::DeliveryBackend`], renders and
//! delivers them ([`deliver`]), and hands outcomes to a batching writer ([`outcomes`]).
//! [`leases`] keeps the leases of claimed work alive and gives back what was not started.

pub mod backend;
pub mod claim;
pub mod config;
pub mod deliver;
pub mod dispatcher;
pub mod housekeeping;
pub mod leases;
pub mod outcomes;
mod run;

pub use config::WorkerConfig;
pub use run::run;
