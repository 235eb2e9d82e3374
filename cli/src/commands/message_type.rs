//! `msgpool type`: message types.

use clap::{Args, Subcommand};
use msgpool::admin::message_types::{self, MessageType, MessageTypeSpec};
use msgpool::admin::{subscriptions, templates};
use msgpool::domain::{Channels, SendPolicy, TypeKey, Urgency};

use crate::args::parse;
use crate::output::outln;
use crate::output::yes_no;
use crate::{Context, output};

#[derive(Debug, Subcommand)]
pub enum TypeCommand {
    /// Add a message type
    Add {
        #[arg(value_parser = parse::<TypeKey>)]
        key: TypeKey,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// List message types
    List,
    /// Show a type with its templates and subscribers
    Show {
        #[arg(value_parser = parse::<TypeKey>)]
        key: TypeKey,
    },
    /// Change a type's settings (only those given)
    Edit {
        #[arg(value_parser = parse::<TypeKey>)]
        key: TypeKey,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Let producers send this type again
    Enable {
        #[arg(value_parser = parse::<TypeKey>)]
        key: TypeKey,
    },
    /// Refuse new messages of this type (what is in the pool still goes out)
    Disable {
        #[arg(value_parser = parse::<TypeKey>)]
        key: TypeKey,
    },
    /// Remove a type that was never used (a used one: disable it)
    Remove {
        #[arg(value_parser = parse::<TypeKey>)]
        key: TypeKey,
    },
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Display name, e.g. 派单堆积
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// e.g. 账号异常, 运营通知, 订单异常, 服务器异常, 脚本异常
    #[arg(long)]
    category: Option<String>,
    /// low, normal, high or urgent
    #[arg(long, value_parser = parse::<Urgency>)]
    urgency: Option<Urgency>,
    /// Comma-separated: inbox,email,sms,webhook
    #[arg(long, value_parser = parse::<Channels>)]
    channels: Option<Channels>,
    /// immediate, times_of_day or interval
    #[arg(long, value_parser = parse::<SendPolicy>)]
    send_policy: Option<SendPolicy>,
    /// Local times for times_of_day, comma-separated, e.g. 08:00,17:00
    #[arg(long, value_delimiter = ',')]
    send_times: Option<Vec<String>>,
    /// IANA time zone of the send times, e.g. Asia/Shanghai
    #[arg(long)]
    time_zone: Option<String>,
    /// For the interval policy, e.g. '2 hours'
    #[arg(long)]
    send_interval: Option<String>,
    /// Same dedup key within this window is counted, not resent, e.g. '30 minutes'
    #[arg(long)]
    dedup_window: Option<String>,
    /// Deferred messages due together: one digest per recipient (true) or one by one (false)
    #[arg(long)]
    digest: Option<bool>,
    /// Delivery attempts before a delivery is dead (1-100)
    #[arg(long)]
    max_attempts: Option<i32>,
    /// The most urgent a producer may ask its messages to be (default: no higher than
    /// --urgency); administrators' sessions are not held to it
    #[arg(long, value_parser = parse::<Urgency>)]
    max_urgency: Option<Urgency>,
    /// Whether producers may name recipients who are not the type's subscribers
    #[arg(long)]
    any_recipient: Option<bool>,
}

impl From<SpecArgs> for MessageTypeSpec {
    fn from(a: SpecArgs) -> Self {
        MessageTypeSpec {
            name: a.name,
            description: a.description,
            category: a.category,
            urgency: a.urgency,
            channels: a.channels,
            send_policy: a.send_policy,
            send_times: a.send_times,
            time_zone: a.time_zone,
            send_interval: a.send_interval,
            dedup_window: a.dedup_window,
            digest: a.digest,
            max_attempts: a.max_attempts,
            max_urgency: a.max_urgency,
            any_recipient: a.any_recipient,
        }
    }
}

pub async fn run(ctx: &Context, cmd: TypeCommand) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    match cmd {
        TypeCommand::Add { key, spec } => {
            let t = message_types::add(&pool, &key, &spec.into()).await?;
            if ctx.json {
                return output::json(&t);
            }
            outln!("added message type {} ({})", t.key, t.name);
        }
        TypeCommand::Edit { key, spec } => {
            let t = message_types::edit(&pool, &key, &spec.into()).await?;
            print_type(ctx, &t)?;
        }
        TypeCommand::List => {
            let types = message_types::list(&pool).await?;
            if ctx.json {
                return output::json(&types);
            }
            output::table(
                &["KEY", "NAME", "CATEGORY", "URGENCY", "CHANNELS", "ENABLED"],
                types
                    .iter()
                    .map(|t| {
                        vec![
                            t.key.to_string(),
                            t.name.clone(),
                            output::or_dash(Some(&t.category)),
                            t.urgency.to_string(),
                            t.channels.to_string(),
                            yes_no(t.enabled),
                        ]
                    })
                    .collect(),
            );
        }
        TypeCommand::Show { key } => {
            let t = message_types::get(&pool, &key).await?;
            let templates = templates::list(&pool, Some(&key)).await?;
            let subscribers = subscriptions::for_type(&pool, &key).await?;
            let rules = message_types::explain(&pool, &key).await?;
            if ctx.json {
                return output::json(&serde_json::json!({
                    "type": t, "templates": templates, "subscriptions": subscribers,
                    "when": rules,
                }));
            }
            print_type(ctx, &t)?;
            outln!("\nwhen it goes out:");
            for line in &rules {
                outln!("  {line}");
            }
            outln!();
            if templates.is_empty() {
                outln!("templates: none (each channel uses the built-in default)");
            }
            for tpl in &templates {
                outln!(
                    "template {}: subject {:?}, body {:?}",
                    tpl.channel,
                    tpl.subject,
                    tpl.body
                );
                if let Some(body) = &tpl.digest_body {
                    outln!(
                        "digest template {}: subject {:?}, body {:?}",
                        tpl.channel,
                        tpl.digest_subject.as_deref().unwrap_or_default(),
                        body
                    );
                }
            }
            if subscribers.is_empty() {
                outln!("subscribers: none (messages go only to explicit recipients)");
            }
            for s in &subscribers {
                let channels = s
                    .channels
                    .as_ref()
                    .map_or("all channels".to_owned(), ToString::to_string);
                let paused = if s.paused { ", paused" } else { "" };
                outln!("subscriber {} ({channels}{paused})", s.subscriber);
            }
        }
        TypeCommand::Enable { key } => {
            message_types::set_enabled(&pool, &key, true).await?;
            outln!("enabled message type {key}");
        }
        TypeCommand::Disable { key } => {
            message_types::set_enabled(&pool, &key, false).await?;
            outln!("disabled message type {key}: producers sending it now get SQLSTATE MP002");
        }
        TypeCommand::Remove { key } => {
            let removed = message_types::remove(&pool, &key).await?;
            outln!(
                "removed message type {key} with its {} template(s) and {} subscription(s)",
                removed.templates,
                removed.subscriptions
            );
        }
    }
    Ok(())
}

fn print_type(ctx: &Context, t: &MessageType) -> anyhow::Result<()> {
    if ctx.json {
        return output::json(t);
    }
    let policy = match t.send_policy {
        SendPolicy::Immediate => "immediate".to_owned(),
        SendPolicy::TimesOfDay => format!("at {} ({})", t.send_times.join(", "), t.time_zone),
        SendPolicy::Interval => format!(
            "at most once every {}",
            t.send_interval.as_deref().unwrap_or("?")
        ),
    };
    output::fields(&[
        ("key", t.key.to_string()),
        ("name", t.name.clone()),
        ("description", output::or_dash(Some(&t.description))),
        ("category", output::or_dash(Some(&t.category))),
        ("urgency", t.urgency.to_string()),
        ("channels", t.channels.to_string()),
        ("send policy", policy),
        ("digest", yes_no(t.digest)),
        ("dedup window", t.dedup_window.clone()),
        ("max attempts", t.max_attempts.to_string()),
        (
            "producers may ask",
            format!(
                "urgency up to {}; {}",
                t.max_urgency.unwrap_or(t.urgency),
                if t.any_recipient {
                    "any recipient"
                } else {
                    "only subscribers as recipients"
                }
            ),
        ),
        ("enabled", yes_no(t.enabled)),
    ]);
    Ok(())
}
