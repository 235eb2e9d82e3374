//! `msgpool recipient`: people and chat groups with their contacts.

use clap::{Args, Subcommand};
use msgpool::admin::recipients::{self, Recipient, RecipientSpec};
use msgpool::domain::{RecipientKey, WebhookFlavor};

use crate::args::parse;
use crate::output::outln;
use crate::output::yes_no;
use crate::{Context, output};

#[derive(Debug, Subcommand)]
pub enum RecipientCommand {
    /// Add a recipient
    Add {
        #[arg(value_parser = parse::<RecipientKey>)]
        key: RecipientKey,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// List recipients
    List,
    /// Show one recipient
    Show {
        #[arg(value_parser = parse::<RecipientKey>)]
        key: RecipientKey,
    },
    /// Change a recipient's name or contacts (an empty value, e.g. --email '', removes it)
    Edit {
        #[arg(value_parser = parse::<RecipientKey>)]
        key: RecipientKey,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Deliver to this recipient again
    Enable {
        #[arg(value_parser = parse::<RecipientKey>)]
        key: RecipientKey,
    },
    /// Stop delivering to this recipient (history stays)
    Disable {
        #[arg(value_parser = parse::<RecipientKey>)]
        key: RecipientKey,
    },
    /// Remove a recipient that never received anything (otherwise: disable it)
    Remove {
        #[arg(value_parser = parse::<RecipientKey>)]
        key: RecipientKey,
    },
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Display name, e.g. 张三
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// E.164, e.g. +8613800000000
    #[arg(long)]
    phone: Option<String>,
    /// Chat robot webhook URL
    #[arg(long)]
    webhook: Option<String>,
    /// dingtalk, wecom, feishu, slack or generic
    #[arg(long, value_parser = parse::<WebhookFlavor>)]
    webhook_flavor: Option<WebhookFlavor>,
    /// Signing secret (DingTalk, Feishu) or HMAC key (generic)
    #[arg(long)]
    webhook_secret: Option<String>,
}

impl From<SpecArgs> for RecipientSpec {
    fn from(a: SpecArgs) -> Self {
        RecipientSpec {
            name: a.name,
            email: a.email,
            phone: a.phone,
            webhook_url: a.webhook,
            webhook_flavor: a.webhook_flavor,
            webhook_secret: a.webhook_secret,
        }
    }
}

pub async fn run(ctx: &Context, cmd: RecipientCommand) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    match cmd {
        RecipientCommand::Add { key, spec } => {
            let r = recipients::add(&pool, &key, &spec.into()).await?;
            if ctx.json {
                return output::json(&r);
            }
            outln!("added recipient {} ({})", r.key, r.name);
        }
        RecipientCommand::Edit { key, spec } => {
            print(ctx, &recipients::edit(&pool, &key, &spec.into()).await?)?
        }
        RecipientCommand::Show { key } => print(ctx, &recipients::get(&pool, &key).await?)?,
        RecipientCommand::List => {
            let all = recipients::list(&pool).await?;
            if ctx.json {
                return output::json(&all);
            }
            output::table(
                &[
                    "KEY", "NAME", "EMAIL", "PHONE", "WEBHOOK", "GROUPS", "ENABLED",
                ],
                all.iter()
                    .map(|r| {
                        vec![
                            r.key.to_string(),
                            r.name.clone(),
                            output::or_dash(r.email.as_deref()),
                            output::or_dash(r.phone.as_deref()),
                            r.webhook_url
                                .as_ref()
                                .map_or("-".to_owned(), |_| r.webhook_flavor.to_string()),
                            output::or_dash(Some(&r.groups.join(","))),
                            yes_no(r.enabled),
                        ]
                    })
                    .collect(),
            );
        }
        RecipientCommand::Enable { key } => {
            recipients::set_enabled(&pool, &key, true).await?;
            outln!("enabled recipient {key}");
        }
        RecipientCommand::Disable { key } => {
            recipients::set_enabled(&pool, &key, false).await?;
            outln!("disabled recipient {key}: nothing new is delivered to them");
        }
        RecipientCommand::Remove { key } => {
            recipients::remove(&pool, &key).await?;
            outln!("removed recipient {key} with their group memberships and subscriptions");
        }
    }
    Ok(())
}

fn print(ctx: &Context, r: &Recipient) -> anyhow::Result<()> {
    if ctx.json {
        return output::json(r);
    }
    let webhook = match &r.webhook_url {
        Some(url) => format!(
            "{url} ({}{})",
            r.webhook_flavor,
            if r.has_webhook_secret { ", signed" } else { "" }
        ),
        None => "-".to_owned(),
    };
    output::fields(&[
        ("key", r.key.to_string()),
        ("name", r.name.clone()),
        ("email", output::or_dash(r.email.as_deref())),
        ("phone", output::or_dash(r.phone.as_deref())),
        ("webhook", webhook),
        ("groups", output::or_dash(Some(&r.groups.join(", ")))),
        ("enabled", yes_no(r.enabled)),
    ]);
    Ok(())
}
