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
        /// The constraint it broke, when one did: names the field a form shows it beside.
        constraint: Option<String>,
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
            if let Some((message, hint)) = db.constraint().and_then(constraint_message) {
                return Error::Refused {
                    message: message.to_owned(),
                    hint: hint.map(str::to_owned),
                    sqlstate: Some(code.to_owned()),
                    constraint: db.constraint().map(str::to_owned),
                };
            }
            if code.starts_with("MP") || code.starts_with("22") || code.starts_with("23") {
                return Error::Refused {
                    message: db.message().to_owned(),
                    hint: db.hint().map(str::to_owned),
                    sqlstate: Some(code.to_owned()),
                    constraint: db.constraint().map(str::to_owned),
                };
            }
            Error::Database { context, source }
        }
    }
}

fn database_error(e: &sqlx::Error) -> Option<&PgDatabaseError> {
    e.as_database_error()?.try_downcast_ref::<PgDatabaseError>()
}

/// What each named constraint of the schema means to a person who tripped it.
fn constraint_message(constraint: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match constraint {
        "message_type_pkey" => (
            "that message type already exists",
            Some("change it with: msgpool type edit KEY"),
        ),
        "recipient_pkey" => (
            "that recipient already exists",
            Some("change it with: msgpool recipient edit KEY"),
        ),
        "recipient_group_pkey" => (
            "that group already exists",
            Some("see it with: msgpool group list"),
        ),
        "recipient_email_format" => ("invalid email address", Some("expected name@example.com")),
        "recipient_phone_format" => (
            "invalid phone number",
            Some(
                "use E.164: a plus sign, the country code and the number, no spaces, e.g. +8613800000000",
            ),
        ),
        "recipient_webhook_url_format" => {
            ("invalid webhook URL", Some("expected http(s)://host/path"))
        }
        "recipient_webhook_secret_needs_url" => (
            "a webhook secret needs a webhook URL",
            Some("give --webhook too"),
        ),
        "message_type_time_zone_known" => (
            "unknown time zone",
            Some("use an IANA name such as Asia/Shanghai or UTC"),
        ),
        "message_type_send_times_given" => (
            "send policy times_of_day needs send times",
            Some("give --send-times 08:00,17:00"),
        ),
        "message_type_send_interval_given" => (
            "send policy interval needs an interval",
            Some("give --send-interval '2 hours'"),
        ),
        "message_type_max_attempts_range" => ("max attempts must be between 1 and 100", None),
        "message_type_dedup_window_not_negative" => ("the dedup window cannot be negative", None),
        "message_type_name_present" | "recipient_name_present" | "recipient_group_name_present" => {
            ("the name must not be empty", Some("give --name"))
        }
        "template_body_present" => ("the template body must not be empty", Some("give --body")),
        "template_html_body_email_only" => (
            "only an email template has an HTML part",
            Some("give --html with --channel email"),
        ),
        "template_digest_body_present" => (
            "the digest body must not be empty",
            Some("give --digest-body, or leave it out for the built-in digest"),
        ),
        "quiet_hours_not_empty" => (
            "quiet hours must start and end at different times",
            Some("e.g. --from 22:00 --to 08:00 (a window may wrap midnight)"),
        ),
        "rate_limit_recipient_max_positive"
        | "rate_limit_provider_per_second_positive"
        | "robot_limit_max_sends_positive" => ("a rate limit must allow at least 1", None),
        "rate_limit_recipient_window_positive" => (
            "the rate-limit window must be longer than zero",
            Some("e.g. --window '1 hour'"),
        ),
        "robot_limit_per_positive" => (
            "the robot limit's window must be longer than zero",
            Some("e.g. --per '1 minute'"),
        ),
        "rate_limit_recipient_complete" => (
            "a per-recipient limit needs both a count and a window",
            Some("give --per-recipient N --window INTERVAL"),
        ),
        _ => return None,
    })
}
