//! The console's users: a name, a role (viewer, operator, admin) and a password, kept as an
//! argon2id hash. Made with the CLI (`msgpool console-user add`); the console signs them in.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{ConsoleRole, RecipientKey};
use crate::{Db, Error, Result};

/// Shorter passwords are refused: the sign-in is a door strangers may knock on.
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ConsoleUser {
    pub name: RecipientKey,
    pub role: ConsoleRole,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

/// Refuses a password too short to withstand guessing.
pub fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(
            format!("a console password needs at least {MIN_PASSWORD_CHARS} characters"),
            "choose a longer one, e.g. four words",
        ));
    }
    Ok(())
}

fn hash(password: &str) -> Result<String> {
    check_password(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::invalid(format!("cannot hash the password: {e}"), "try another"))
}

/// Adds a user, or gives an existing one a new role and password.
pub async fn set(
    pool: &Db,
    name: &RecipientKey,
    role: ConsoleRole,
    password: &str,
) -> Result<ConsoleUser> {
    let password_hash = hash(password)?;
    sqlx::query_as(
        "INSERT INTO msgpool.console_user (name, role, password_hash) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash
         RETURNING name, role, enabled, created_at",
    )
    .bind(name)
    .bind(role)
    .bind(password_hash)
    .fetch_one(pool)
    .await
    .map_err(Error::from_database(format!("setting console user {name}")))
}

pub async fn list(pool: &Db) -> Result<Vec<ConsoleUser>> {
    sqlx::query_as("SELECT name, role, enabled, created_at FROM msgpool.console_user ORDER BY name")
        .fetch_all(pool)
        .await
        .map_err(Error::from_database("listing console users"))
}

pub async fn remove(pool: &Db, name: &RecipientKey) -> Result<()> {
    let removed = sqlx::query("DELETE FROM msgpool.console_user WHERE name = $1")
        .bind(name)
        .execute(pool)
        .await
        .map_err(Error::from_database(format!(
            "removing console user {name}"
        )))?;
    if removed.rows_affected() == 0 {
        return Err(Error::not_found(
            format!("no console user {name}"),
            Some("list them with: msgpool console-user list".to_owned()),
        ));
    }
    Ok(())
}

/// The user `name` signs in as, when `password` is theirs and they are enabled; `None`
/// otherwise (which of the two is wrong is not said). The hash is checked either way, so
/// the time taken says nothing of whether the name exists.
pub async fn verify(pool: &Db, name: &str, password: &str) -> Result<Option<ConsoleUser>> {
    let found: Option<(String, ConsoleRole, bool, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT name, role, enabled, created_at, password_hash FROM msgpool.console_user WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await
    .map_err(Error::from_database("signing in"))?;
    // a hash of a password nobody has, for a name nobody has
    const NOBODY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$mBLDt9vC5nZvzBFYgE7j0q3n1KcK1s3RkW2Qm1xMZ8E";
    let stored = found.as_ref().map_or(NOBODY, |f| f.4.as_str());
    let matches = PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false);
    Ok(found
        .filter(|f| matches && f.2)
        .and_then(|(name, role, enabled, created_at, _)| {
            Some(ConsoleUser {
                name: RecipientKey::parse(&name).ok()?,
                role,
                enabled,
                created_at,
            })
        }))
}
