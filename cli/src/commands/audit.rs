//! `msgpool audit`: who changed the configuration, when, from what to what.

use clap::Args;
use msgpool::audit;
use msgpool::domain::{RecipientKey, TypeKey};

use crate::args::parse;
use crate::{Context, output};

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only changes to this message type (its settings, templates, subscriptions, quiet hours)
    #[arg(long = "type", value_parser = parse::<TypeKey>)]
    type_key: Option<TypeKey>,
    /// Only changes to this recipient (its contacts, memberships, subscriptions)
    #[arg(long, value_parser = parse::<RecipientKey>)]
    recipient: Option<RecipientKey>,
    /// Show at most this many, newest first
    #[arg(long, default_value_t = 50)]
    limit: i64,
}

pub async fn run(ctx: &Context, args: AuditArgs) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    let changes = audit::list(
        &pool,
        args.type_key.as_ref(),
        args.recipient.as_ref(),
        args.limit,
    )
    .await?;
    if ctx.json {
        return output::json(&changes);
    }
    output::table(
        &["AT", "WHO", "WHAT", "CHANGE"],
        changes
            .into_iter()
            .map(|c| {
                let about = [&c.type_key, &c.recipient_key, &c.group_key, &c.channel]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ");
                // the person, and the login and application they came through when those say more
                let login = Some(c.login_role.as_str()).filter(|l| *l != c.actor);
                let through: Vec<&str> = [login, c.application.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect();
                let who = match through.is_empty() {
                    true => c.actor.clone(),
                    false => format!("{} ({})", c.actor, through.join(", ")),
                };
                vec![
                    output::time(c.at),
                    who,
                    format!("{} {} {about}", c.action, c.subject),
                    output::or_dash(c.changed.as_deref()),
                ]
            })
            .collect(),
    );
    Ok(())
}
