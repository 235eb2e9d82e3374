//! Recipient groups: subscribe a group and every member hears about the type.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Keyed;
use crate::domain::RecipientKey;
use crate::{Db, Error, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Group {
    #[sqlx(try_from = "String")]
    pub key: RecipientKey,
    pub name: String,
    pub description: String,
    pub members: Vec<String>,
    pub created_at: DateTime<Utc>,
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT key, name, description,
                    ARRAY(SELECT m.recipient_key::text FROM msgpool.group_member m
                           WHERE m.group_key = g.key ORDER BY 1) AS members,
                    created_at
               FROM msgpool.recipient_group g ",
            $rest
        )
    };
}

pub async fn add(
    pool: &Db,
    key: &RecipientKey,
    name: &str,
    description: Option<&str>,
) -> Result<Group> {
    let described = async |conn: &mut sqlx::PgConnection| {
        sqlx::query("UPDATE msgpool.recipient_group SET description = $2 WHERE key = $1")
            .bind(key.as_str())
            .bind(description.unwrap_or_default())
            .execute(&mut *conn)
            .await?;
        sqlx::query_as(select!("WHERE key = $1"))
            .bind(key.as_str())
            .fetch_optional(conn)
            .await
    };
    Keyed::Group
        .add(pool, key.as_str(), Some(name), described)
        .await
}

pub async fn list(pool: &Db) -> Result<Vec<Group>> {
    sqlx::query_as(select!("ORDER BY key"))
        .fetch_all(pool)
        .await
        .map_err(Error::from_database("listing groups"))
}

pub async fn get(pool: &Db, key: &RecipientKey) -> Result<Group> {
    let found = sqlx::query_as(select!("WHERE key = $1"))
        .bind(key.as_str())
        .fetch_optional(pool)
        .await
        .map_err(Error::from_database(format!("reading group {key}")))?;
    Keyed::Group.found(pool, key.as_str(), found).await
}

/// Removes a group; its memberships and subscriptions go with it (the recipients stay).
/// Returns the group as it was, so the caller can say what went.
pub async fn remove(pool: &Db, key: &RecipientKey) -> Result<Group> {
    let group = get(pool, key).await?;
    sqlx::query("DELETE FROM msgpool.recipient_group WHERE key = $1")
        .bind(key.as_str())
        .execute(pool)
        .await
        .map_err(Error::from_database(format!("removing group {key}")))?;
    Ok(group)
}

/// Adds recipients to a group; adding one who is already a member changes nothing.
pub async fn add_members(pool: &Db, key: &RecipientKey, members: &[RecipientKey]) -> Result<Group> {
    Keyed::Group.require(pool, key.as_str()).await?;
    for member in members {
        Keyed::Recipient.require(pool, member.as_str()).await?;
    }
    sqlx::query(
        "INSERT INTO msgpool.group_member (group_key, recipient_key)
         SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
    )
    .bind(key.as_str())
    .bind(members.iter().map(RecipientKey::as_str).collect::<Vec<_>>())
    .execute(pool)
    .await
    .map_err(Error::from_database(format!(
        "adding members to group {key}"
    )))?;
    get(pool, key).await
}

pub async fn remove_member(pool: &Db, key: &RecipientKey, member: &RecipientKey) -> Result<Group> {
    let gone =
        sqlx::query("DELETE FROM msgpool.group_member WHERE group_key = $1 AND recipient_key = $2")
            .bind(key.as_str())
            .bind(member.as_str())
            .execute(pool)
            .await
            .map_err(Error::from_database(format!(
                "removing {member} from group {key}"
            )))?;
    if gone.rows_affected() == 0 {
        Keyed::Group.require(pool, key.as_str()).await?;
        return Err(Error::not_found(
            format!("{member} is not a member of group {key}"),
            Some("see the members with: msgpool group list".to_owned()),
        ));
    }
    get(pool, key).await
}

/// Makes `member` belong to exactly the `wanted` groups, in one transaction: a group that
/// does not exist (removed meanwhile) refuses the whole change.
pub async fn set_memberships(
    pool: &Db,
    member: &RecipientKey,
    wanted: &[RecipientKey],
) -> Result<()> {
    let context = format!("setting the groups of {member}");
    let mut tx = pool.begin().await.map_err(Error::from_database(&context))?;
    Keyed::Recipient.require(&mut *tx, member.as_str()).await?;
    for group in wanted {
        Keyed::Group.require(&mut *tx, group.as_str()).await?;
    }
    let wanted: Vec<&str> = wanted.iter().map(RecipientKey::as_str).collect();
    sqlx::query(
        "DELETE FROM msgpool.group_member WHERE recipient_key = $1 AND group_key <> ALL($2::text[])",
    )
    .bind(member.as_str())
    .bind(&wanted)
    .execute(&mut *tx)
    .await
    .map_err(Error::from_database(&context))?;
    sqlx::query(
        "INSERT INTO msgpool.group_member (group_key, recipient_key)
         SELECT unnest($2::text[]), $1 ON CONFLICT DO NOTHING",
    )
    .bind(member.as_str())
    .bind(&wanted)
    .execute(&mut *tx)
    .await
    .map_err(Error::from_database(&context))?;
    tx.commit().await.map_err(Error::from_database(&context))
}
