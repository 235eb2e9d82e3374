//! One error type for the library. Refusals (bad input, unknown keys) carry a message that
//! says what was wrong and a hint that says how to fix it; the database's own refusals (the
//! MPxxx SQLSTATEs and named constraints) map to the same shape in [`Error::from_database`].

use sqlx::postgres::PgDatabaseError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request was wrong: input refused by msgpool's checks or by the database's.
    #[error("{message}")]
    Refused {
        message: String,
        hint: Option<String>,
        /// The SQLSTATE when the database refused it (e.g. `MP001`).
        sqlstate: Option<String>,
        /// The constraint it broke, when one did.
        constraint: Option<String>,
        /// The field of a form it belongs beside, when msgpool knows (`name`, `templates`).
        field: Option<&'static str>,
    },
    /// A key that names nothing.
    #[error("{message}")]
    NotFound {
        message: String,
        hint: Option<String>,
    },
    /// The machine lacks something msgpool needs (PostgreSQL binaries, a user to run it as).
    #[error("{message}")]
    Setup {
        message: String,
        hint: Option<String>,
    },
    #[error("{context}")]
    Database {
        context: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn invalid(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Refused {
            message: message.into(),
            hint: Some(hint.into()),
            sqlstate: None,
            constraint: None,
            field: None,
        }
    }

    /// The same refusal, said to belong beside `field` unless it already names its field.
    pub fn beside(self, field: &'static str) -> Self {
        match self {
            Error::Refused {
                message,
                hint,
                sqlstate,
                constraint,
                field: None,
            } => Error::Refused {
                message,
                hint,
                sqlstate,
                constraint,
                field: Some(field),
            },
            other => other,
        }
    }

    /// The form field a refusal belongs beside, where it is known.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::Refused { field, .. } => *field,
            _ => None,
        }
    }

    pub fn not_found(message: impl Into<String>, hint: Option<String>) -> Self {
        Error::NotFound {
            message: message.into(),
            hint,
        }
    }

    pub fn setup(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Setup {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }

    /// How to fix it, where msgpool knows.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Refused { hint, .. }
            | Error::NotFound { hint, .. }
            | Error::Setup { hint, .. } => hint.as_deref(),
            Error::Database {
                source: sqlx::Error::Io(_) | sqlx::Error::Tls(_),
                ..
            } => Some(
                "check the host and port of DATABASE_URL, and that PostgreSQL is running and reachable there",
            ),
            Error::Database { source, .. } => database_error(source)
                .filter(|e| e.code() == "42P01" || e.code() == "3F000")
                .map(|_| "the msgpool schema is missing here: run `msgpool db migrate`"),
            Error::Io { .. } => None,
        }
    }

    /// The named constraint a refused write broke, e.g. `message_type_time_zone_known`.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            Error::Refused { constraint, .. } => constraint.as_deref(),
            _ => None,
        }
    }

    /// The SQLSTATE of a database refusal, e.g. `MP001`.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Refused { sqlstate, .. } => sqlstate.as_deref(),
            Error::Database { source, .. } => database_error(source).map(|e| e.code()),
            _ => None,
        }
    }

    /// Maps a database error met while doing `context`: refusals of input (msgpool's MPxxx
    /// codes, data exceptions, constraint violations) become [`Error::Refused`] with a plain
    /// message; everything else stays a database error with its context.
    pub fn from_database(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
        let context = context.into();
        move |source| {
            let Some(db) = database_error(&source) else {
                return Error::Database { context, source };
            };
            let code = db.code();
            if let Some(refusal) = db.constraint().and_then(Refusal::of) {
                return Error::Refused {
                    message: refusal.message.to_owned(),
                    hint: refusal.hint.map(str::to_owned),
                    sqlstate: Some(code.to_owned()),
                    constraint: Some(refusal.constraint.to_owned()),
                    field: refusal.field,
                };
            }
            if code.starts_with("MP") || code.starts_with("22") || code.starts_with("23") {
                return Error::Refused {
                    message: db.message().to_owned(),
                    hint: db.hint().map(str::to_owned),
                    sqlstate: Some(code.to_owned()),
                    constraint: db.constraint().map(str::to_owned),
                    field: None,
                };
            }
            Error::Database { context, source }
        }
    }
}

fn database_error(e: &sqlx::Error) -> Option<&PgDatabaseError> {
    e.as_database_error()?.try_downcast_ref::<PgDatabaseError>()
}

/// What a named constraint of the schema means to a person who tripped it.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    pub constraint: &'static str,
    pub message: &'static str,
    pub hint: Option<&'static str>,
    /// The form field it belongs beside.
    pub field: Option<&'static str>,
}

impl Refusal {
    pub fn of(constraint: &str) -> Option<&'static Refusal> {
        REFUSALS.iter().find(|r| r.constraint == constraint)
    }
}

const fn refusal(
    constraint: &'static str,
    message: &'static str,
    hint: Option<&'static str>,
    field: Option<&'static str>,
) -> Refusal {
    Refusal {
        constraint,
        message,
        hint,
        field,
    }
}

/// The catalogue of refusals: every constraint of the schema that input can break, worded.
/// `tests/parity.rs` holds it to the schema: each constraint is here or in [`INVARIANTS`],
/// and nothing here names a constraint the schema lacks.
pub const REFUSALS: &[Refusal] = &[
    refusal(
        "message_type_pkey",
        "that message type already exists",
        Some("change it with: msgpool type edit KEY"),
        Some("key"),
    ),
    refusal(
        "type_key_format",
        "invalid message type key",
        Some("use dotted lowercase words, e.g. order.dispatch_backlog or server.down"),
        Some("key"),
    ),
    refusal(
        "recipient_key_format",
        "invalid recipient or group key",
        Some("use letters, digits and . _ @ -, starting with a letter or digit, e.g. zhang.san"),
        Some("key"),
    ),
    refusal(
        "recipient_pkey",
        "that recipient already exists",
        Some("change it with: msgpool recipient edit KEY"),
        Some("key"),
    ),
    refusal(
        "recipient_group_pkey",
        "that group already exists",
        Some("see it with: msgpool group list"),
        Some("key"),
    ),
    refusal(
        "recipient_email_format",
        "invalid email address",
        Some("expected name@example.com"),
        Some("email"),
    ),
    refusal(
        "recipient_phone_format",
        "invalid phone number",
        Some(
            "use E.164: a plus sign, the country code and the number, no spaces, e.g. +8613800000000",
        ),
        Some("phone"),
    ),
    refusal(
        "recipient_webhook_url_format",
        "invalid webhook URL",
        Some("expected http(s)://host/path"),
        Some("webhook_url"),
    ),
    refusal(
        "recipient_webhook_secret_needs_url",
        "a webhook secret needs a webhook URL",
        Some("give --webhook too"),
        Some("webhook_url"),
    ),
    refusal(
        "message_type_time_zone_known",
        "unknown time zone",
        Some("use an IANA name such as Asia/Shanghai or UTC"),
        Some("time_zone"),
    ),
    refusal(
        "message_type_send_times_given",
        "send policy times_of_day needs send times",
        Some("give --send-times 08:00,17:00"),
        Some("send_times"),
    ),
    refusal(
        "message_type_send_interval_given",
        "send policy interval needs an interval",
        Some("give --send-interval '2 hours'"),
        Some("send_interval"),
    ),
    refusal(
        "message_type_max_attempts_range",
        "max attempts must be between 1 and 100",
        None,
        Some("max_attempts"),
    ),
    refusal(
        "message_type_dedup_window_not_negative",
        "the dedup window cannot be negative",
        None,
        Some("dedup_window"),
    ),
    refusal(
        "message_type_channels_present",
        "a message type needs at least one channel",
        Some("give --channels inbox,email"),
        Some("channels"),
    ),
    refusal(
        "message_type_name_present",
        "the name must not be empty",
        Some("give --name"),
        Some("name"),
    ),
    refusal(
        "recipient_name_present",
        "the name must not be empty",
        Some("give --name"),
        Some("name"),
    ),
    refusal(
        "recipient_group_name_present",
        "the name must not be empty",
        Some("give --name"),
        Some("name"),
    ),
    refusal(
        "template_body_present",
        "the template body must not be empty",
        Some("give --body"),
        Some("templates"),
    ),
    refusal(
        "template_html_body_email_only",
        "only an email template has an HTML part",
        Some("give --html with --channel email"),
        Some("templates"),
    ),
    refusal(
        "template_digest_body_present",
        "the digest body must not be empty",
        Some("give --digest-body, or leave it out for the built-in digest"),
        Some("templates"),
    ),
    refusal(
        "quiet_hours_not_empty",
        "quiet hours must start and end at different times",
        Some("e.g. --from 22:00 --to 08:00 (a window may wrap midnight)"),
        Some("quiet_hours"),
    ),
    refusal(
        "rate_limit_recipient_max_positive",
        "a rate limit must allow at least 1",
        None,
        None,
    ),
    refusal(
        "rate_limit_provider_per_second_positive",
        "a rate limit must allow at least 1",
        None,
        None,
    ),
    refusal(
        "robot_limit_max_sends_positive",
        "a rate limit must allow at least 1",
        None,
        None,
    ),
    refusal(
        "rate_limit_recipient_window_positive",
        "the rate-limit window must be longer than zero",
        Some("e.g. --window '1 hour'"),
        None,
    ),
    refusal(
        "robot_limit_per_positive",
        "the robot limit's window must be longer than zero",
        Some("e.g. --per '1 minute'"),
        None,
    ),
    refusal(
        "rate_limit_recipient_complete",
        "a per-recipient limit needs both a count and a window",
        Some("give --per-recipient N --window INTERVAL"),
        None,
    ),
    refusal(
        "rate_limit_something",
        "a rate limit needs a per-recipient limit, a provider limit, or both",
        Some("give --per-recipient N --window W, or --per-second N"),
        None,
    ),
    refusal(
        "subscription_channels_present",
        "a subscription's channels must not be empty",
        Some("leave --channels out for all of the type's channels"),
        Some("channels"),
    ),
    refusal(
        "settings_max_payload_bytes_range",
        "max_payload_bytes must be between 1024 and 104857600",
        None,
        None,
    ),
    refusal(
        "settings_max_deliver_at_lag_not_negative",
        "max_deliver_at_lag cannot be negative",
        None,
        None,
    ),
    refusal(
        "settings_retry_base_not_negative",
        "retry_base cannot be negative",
        None,
        None,
    ),
    refusal(
        "settings_retry_cap_above_base",
        "retry_cap must be at least retry_base",
        None,
        None,
    ),
    refusal(
        "settings_max_claim_bytes_range",
        "max_claim_bytes must be between 65536 and 1073741824",
        None,
        None,
    ),
];

/// Constraints msgpool's own tools never trip (they check first: keys, one row, a subscriber)
/// and those only a bug in its functions could break (the state machines' promises). A
/// hand-written SQL statement that trips one gets PostgreSQL's own words.
pub const INVARIANTS: &[&str] = &[
    "message_pkey",
    "message_expanded_when_expanded",
    "delivery_pkey",
    "delivery_once",
    "delivery_attempts_not_negative",
    "delivery_leased_while_sending",
    "delivery_sent_has_sent_at",
    "delivery_skip_has_reason",
    "delivery_dead_has_error",
    "delivery_attempt_pkey",
    "dedup_pkey",
    "interval_slot_pkey",
    "waiting_worker_pkey",
    "inbox_pkey",
    "inbox_delivery_id_key",
    "console_user_pkey",
    "console_user_password_hashed",
    "producer_pkey",
    "settings_pkey",
    "settings_one_row",
    "audit_pkey",
    "audit_action_known",
    "destination_report_pkey",
    "subscription_pkey",
    "subscription_one_subscriber",
    "template_pkey",
    "template_type_key_fkey",
    "group_member_pkey",
    "group_member_group_key_fkey",
    "group_member_recipient_key_fkey",
    "subscription_type_key_fkey",
    "subscription_recipient_key_fkey",
    "subscription_group_key_fkey",
    "quiet_hours_pkey",
    "quiet_hours_type_key_fkey",
    "rate_limit_pkey",
    "robot_limit_pkey",
    "schema_history_pkey",
];
