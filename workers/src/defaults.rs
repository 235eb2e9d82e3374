//! Every default, stated once: `WorkerConfig::default`, `SmsConfig::default` and the
//! `msgpool worker` flags all read them.

pub const CHANNELS: &str = "inbox,email,sms,webhook";
/// Sends in flight per channel, across its destinations: enough for the per-destination
/// limits to reach 1,000 sends/s against providers answering in 100-250 ms
pub const CONCURRENCY: usize = 512;
/// Sends in flight per destination: the adaptive limit's floor, start and ceiling
pub const MIN_IN_FLIGHT: usize = 2;
pub const INITIAL_IN_FLIGHT: usize = 16;
pub const MAX_IN_FLIGHT: usize = 256;
/// Rows per claim: large enough that a round trip carries many sends, small enough that a
/// worker stopping gives little back
pub const BATCH_SIZE: i32 = 500;
pub const POLL_INTERVAL_MS: u64 = 1000;
pub const LEASE_SECS: u64 = 60;
pub const GRACE_SECS: u64 = 10;
/// seconds a provider has to accept a connection, and for a whole send
pub const CONNECT_TIMEOUT_SECS: u64 = 5;
pub const SEND_TIMEOUT_SECS: u64 = 15;
pub const SMTP_FROM: &str = "msgpool <msgpool@localhost>";
pub const RETENTION: &str = "30 days";
pub const HOUSEKEEPING_SECS: u64 = 3600;
pub const SMS_PHONE_FIELD: &str = "phone";
pub const SMS_TEXT_FIELD: &str = "text";
pub const SMS_MAX_CHARS: usize = 500;
pub const ALIYUN_ENDPOINT: &str = "https://dysmsapi.aliyuncs.com/";
