//! `msgpool db`: the embedded cluster's lifecycle, and migrations for any database.

use anyhow::bail;
use clap::Subcommand;
use msgpool::Database;
use msgpool::domain::Role;

use crate::args::parse;
use msgpool::embedded::{Cluster, ClusterState};

use crate::output::outln;
use crate::{Context, output};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Start the embedded cluster (creating it the first time) and bring its schema up to date
    Start,
    /// Stop the embedded cluster
    Stop,
    /// Say whether the embedded cluster runs, and where
    Status,
    /// Print a URL that psql or any language can use (starts the embedded cluster if needed)
    Url {
        /// A URL for a login role with only these rights (made on first use): give producers
        /// `--role producer`, workers `--role worker`; without it, the administrator's URL
        #[arg(long, value_parser = parse::<Role>)]
        role: Option<Role>,
    },
    /// Apply msgpool's migrations to the database (a no-op when up to date)
    Migrate,
}

pub async fn run(ctx: &Context, cmd: DbCommand) -> anyhow::Result<()> {
    match cmd {
        DbCommand::Url { role: None } => outln!("{}", ctx.database.url().await?),
        DbCommand::Url { role: Some(role) } => {
            ctx.database.migrate_if_embedded().await?;
            outln!("{}", ctx.database.role_url(role).await?)
        }
        DbCommand::Migrate => report(&ctx.database.migrate().await?),
        DbCommand::Start => {
            let applied = ctx.database.migrate().await?;
            outln!("running: {}", ctx.database.url().await?);
            report(&applied);
        }
        DbCommand::Stop => {
            if cluster(ctx)?.stop().await? {
                outln!("stopped");
            } else {
                outln!("was not running");
            }
        }
        DbCommand::Status => {
            let cluster = cluster(ctx)?;
            let state = cluster.state()?;
            if ctx.json {
                return output::json(&state);
            }
            let home = cluster.home().display();
            match state {
                ClusterState::NotInitialized => {
                    outln!("not created yet in {home} (msgpool db start creates it)")
                }
                ClusterState::Stopped => outln!("stopped ({home})"),
                ClusterState::Running { pid, port } => {
                    outln!("running: pid {pid}, port {port} ({home})")
                }
            }
        }
    }
    Ok(())
}

fn report(applied: &[String]) {
    if applied.is_empty() {
        outln!("the schema is up to date");
    } else {
        outln!("applied {}", applied.join(", "));
    }
}

fn cluster(ctx: &Context) -> anyhow::Result<Cluster> {
    match &ctx.database {
        Database::Embedded(home) => Ok(Cluster::new(home)?),
        Database::Url(_) | Database::Pooled(_) => bail!(
            "DATABASE_URL (or --database-url) is set, so msgpool does not manage that server; unset it to use the embedded cluster"
        ),
    }
}
