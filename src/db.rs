//! The handle every query goes through: a connection pool, used as sqlx's own pool is —
//! `sqlx::query(..).fetch_all(&db)` — except behind a transaction-mode pooler.
//!
//! A transaction-mode pooler (PgBouncer `pool_mode = transaction`, before 1.21 without
//! prepared statements) lends a server connection for one transaction at a time. sqlx parses
//! a statement and executes it in two round trips, each ending in a Sync, and between them
//! the pooler may hand the server connection to another client. So there each query runs in
//! a transaction of its own, committed before its result is returned; direct connections
//! run exactly as sqlx's pool does. The statements a transaction prepared stay on its server
//! connection, where the next client's would collide with them: the pooler must clear them
//! when it takes the connection back (`server_reset_query = DEALLOCATE ALL`,
//! `server_reset_query_always = 1`; the README says so).
//!
//! A handle may act for a person ([`Db::on_behalf_of`]): the console's, for the console user
//! signed in. Each query then runs in a transaction that says so first
//! (`msgpool.person`, which the audit trusts from the console's login role alone).

use std::sync::Arc;

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use futures_util::{StreamExt as _, TryStreamExt as _};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Either, Execute, Executor, PgConnection, PgPool, Postgres, Transaction};

#[derive(Debug, Clone)]
pub struct Db {
    pool: PgPool,
    pooled: bool,
    person: Option<Arc<str>>,
}

impl Db {
    /// Queries over `pool`, straight to PostgreSQL.
    pub fn direct(pool: PgPool) -> Db {
        Db {
            pool,
            pooled: false,
            person: None,
        }
    }

    /// The same pool, each query and transaction saying it acts for `person` (see the module).
    pub fn on_behalf_of(&self, person: &str) -> Db {
        Db {
            person: Some(Arc::from(person)),
            ..self.clone()
        }
    }

    /// A transaction per query: behind a pooler, and for a person.
    fn per_query_transactions(&self) -> bool {
        self.pooled || self.person.is_some()
    }

    /// A pool straight to the server at `url` (see [`crate::Database::pool`] for msgpool's
    /// own choices: the embedded cluster, timeouts, a pooler).
    pub async fn connect(url: &str) -> sqlx::Result<Db> {
        Ok(Db::direct(PgPool::connect(url).await?))
    }

    /// Queries over `pool`, whose connections pass a transaction-mode pooler.
    pub fn pooled(pool: PgPool) -> Db {
        Db {
            pool,
            pooled: true,
            person: None,
        }
    }

    /// The sqlx pool underneath, for what needs a server session of its own (LISTEN).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn begin(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        begin(&self.pool, self.person.as_deref()).await
    }

    /// A connection for several statements in a row: a pooled connection, or behind a
    /// pooler (or for a person) a transaction ([`Session::finish`] commits it).
    pub async fn session(&self) -> sqlx::Result<Session> {
        Ok(match self.per_query_transactions() {
            false => Session::Direct(self.pool.acquire().await?),
            true => Session::Pooled(self.begin().await?),
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A transaction, saying first whom it acts for.
async fn begin(
    pool: &PgPool,
    person: Option<&str>,
) -> sqlx::Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    if let Some(person) = person {
        sqlx::query("SELECT set_config('msgpool.person', $1, true)")
            .bind(person)
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

/// See [`Db::session`].
pub enum Session {
    Direct(PoolConnection<Postgres>),
    Pooled(Transaction<'static, Postgres>),
}

impl Session {
    /// Ends the session; behind a pooler, commits what it did.
    pub async fn finish(self) -> sqlx::Result<()> {
        match self {
            Session::Direct(_) => Ok(()),
            Session::Pooled(tx) => tx.commit().await,
        }
    }
}

impl std::ops::Deref for Session {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match self {
            Session::Direct(conn) => conn,
            Session::Pooled(tx) => tx,
        }
    }
}

impl std::ops::DerefMut for Session {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Session::Direct(conn) => conn,
            Session::Pooled(tx) => tx,
        }
    }
}

impl<'c> Executor<'c> for &'c Db {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, sqlx::Result<Either<PgQueryResult, PgRow>>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.per_query_transactions() {
            return self.pool.fetch_many(query);
        }
        let (pool, person) = (self.pool.clone(), self.person.clone());
        futures_util::stream::once(async move {
            let mut tx = begin(&pool, person.as_deref()).await?;
            let results: Vec<_> = (&mut *tx).fetch_many(query).try_collect().await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(futures_util::stream::iter(results.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, sqlx::Result<Option<PgRow>>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.per_query_transactions() {
            return self.pool.fetch_optional(query);
        }
        let (pool, person) = (self.pool.clone(), self.person.clone());
        Box::pin(async move {
            let mut tx = begin(&pool, person.as_deref()).await?;
            let row = (&mut *tx).fetch_optional(query).await?;
            tx.commit().await?;
            Ok(row)
        })
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, sqlx::Result<PgStatement>>
    where
        'c: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }
}
