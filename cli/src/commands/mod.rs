//! One module per command group; each parses its arguments into domain types, calls the
//! library, and prints.

pub mod audit;
pub mod bench;
pub mod cancel;
pub mod console_user;
pub mod db;
pub mod deliveries;
pub mod group;
pub mod inbox;
pub mod message_type;
pub mod producer;
pub mod prune;
pub mod quiet_hours;
pub mod rate_limit;
pub mod recipient;
pub mod send;
pub mod status;
pub mod subscription;
pub mod template;
pub mod web;
pub mod worker;
