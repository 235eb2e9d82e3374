//! `msgpool group`: groups of recipients.

use clap::Subcommand;
use msgpool::admin::groups;
use msgpool::domain::RecipientKey;

use crate::args::parse;
use crate::output::outln;
use crate::{Context, output};

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Add a group
    Add {
        #[arg(value_parser = parse::<RecipientKey>)]
        key: RecipientKey,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List groups with their members
    List,
    /// Remove a group with its memberships and subscriptions (the recipients stay)
    Remove {
        #[arg(value_parser = parse::<RecipientKey>)]
        key: RecipientKey,
    },
    /// Add recipients to a group
    AddMember {
        #[arg(value_parser = parse::<RecipientKey>)]
        group: RecipientKey,
        #[arg(required = true, value_parser = parse::<RecipientKey>)]
        recipients: Vec<RecipientKey>,
    },
    /// Take a recipient out of a group
    RemoveMember {
        #[arg(value_parser = parse::<RecipientKey>)]
        group: RecipientKey,
        #[arg(value_parser = parse::<RecipientKey>)]
        recipient: RecipientKey,
    },
}

pub async fn run(ctx: &Context, cmd: GroupCommand) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    match cmd {
        GroupCommand::Add {
            key,
            name,
            description,
        } => {
            let g = groups::add(&pool, &key, &name, description.as_deref()).await?;
            if ctx.json {
                return output::json(&g);
            }
            outln!("added group {} ({})", g.key, g.name);
        }
        GroupCommand::List => {
            let all = groups::list(&pool).await?;
            if ctx.json {
                return output::json(&all);
            }
            output::table(
                &["KEY", "NAME", "MEMBERS"],
                all.iter()
                    .map(|g| {
                        vec![
                            g.key.to_string(),
                            g.name.clone(),
                            output::or_dash(Some(&g.members.join(","))),
                        ]
                    })
                    .collect(),
            );
        }
        GroupCommand::Remove { key } => {
            let g = groups::remove(&pool, &key).await?;
            outln!(
                "removed group {key} ({} member(s) stay as recipients)",
                g.members.len()
            );
        }
        GroupCommand::AddMember { group, recipients } => {
            let g = groups::add_members(&pool, &group, &recipients).await?;
            if ctx.json {
                return output::json(&g);
            }
            outln!("group {group} members: {}", g.members.join(", "));
        }
        GroupCommand::RemoveMember { group, recipient } => {
            let g = groups::remove_member(&pool, &group, &recipient).await?;
            if ctx.json {
                return output::json(&g);
            }
            outln!(
                "removed {recipient} from group {group}; members: {}",
                output::or_dash(Some(&g.members.join(", ")))
            );
        }
    }
    Ok(())
}
