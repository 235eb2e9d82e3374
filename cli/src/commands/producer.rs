//! `msgpool producer`: the sources a producing service's login role may name on its messages.

use clap::Subcommand;
use msgpool::admin::producers;

use crate::output::outln;
use crate::{Context, output};

#[derive(Debug, Subcommand)]
pub enum ProducerCommand {
    /// Allow a login role these sources (replacing what it was allowed); without any, its
    /// messages' source is the role's name
    Allow {
        /// The producer's login role, e.g. billing_login
        login_role: String,
        #[arg(long, value_delimiter = ',', required = true)]
        sources: Vec<String>,
    },
    /// The login roles allowed sources of their own
    List,
    /// Take back what a login role was allowed
    Remove { login_role: String },
}

pub async fn run(ctx: &Context, cmd: ProducerCommand) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    match cmd {
        ProducerCommand::Allow {
            login_role,
            sources,
        } => {
            let p = producers::allow(&pool, &login_role, &sources).await?;
            if ctx.json {
                return output::json(&p);
            }
            outln!(
                "{} may name sources: {}",
                p.login_role,
                p.sources.join(", ")
            );
        }
        ProducerCommand::List => {
            let all = producers::list(&pool).await?;
            if ctx.json {
                return output::json(&all);
            }
            output::table(
                &["login role", "sources"],
                all.iter()
                    .map(|p| vec![p.login_role.clone(), p.sources.join(", ")])
                    .collect(),
            );
        }
        ProducerCommand::Remove { login_role } => {
            producers::remove(&pool, &login_role).await?;
            outln!("{login_role}: its messages' source is its name again");
        }
    }
    Ok(())
}
