//! `msgpool subscribe`, `unsubscribe`, `pause`, `resume` and `subscriptions`.

use clap::{ArgGroup, Args};
use msgpool::admin::subscriptions::{self, Subscriber};
use msgpool::domain::{Channels, RecipientKey, TypeKey};

use crate::args::parse;
use crate::output::outln;
use crate::{Context, output};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("who").required(true).args(["recipient", "group"])))]
pub struct Who {
    #[arg(long, value_parser = parse::<RecipientKey>)]
    recipient: Option<RecipientKey>,
    #[arg(long, value_parser = parse::<RecipientKey>)]
    group: Option<RecipientKey>,
}

impl Who {
    fn subscriber(self) -> anyhow::Result<Subscriber> {
        match (self.recipient, self.group) {
            (Some(r), None) => Ok(Subscriber::Recipient(r)),
            (None, Some(g)) => Ok(Subscriber::Group(g)),
            _ => anyhow::bail!("give one of --recipient or --group"),
        }
    }
}

#[derive(Debug, Args)]
pub struct SubscribeArgs {
    #[arg(value_parser = parse::<TypeKey>)]
    type_key: TypeKey,
    #[command(flatten)]
    who: Who,
    /// Only these of the type's channels (default: all of them)
    #[arg(long, value_parser = parse::<Channels>)]
    channels: Option<Channels>,
}

/// Which subscription: `unsubscribe`, `pause`, `resume`.
#[derive(Debug, Args)]
pub struct UnsubscribeArgs {
    #[arg(value_parser = parse::<TypeKey>)]
    type_key: TypeKey,
    #[command(flatten)]
    who: Who,
}

pub async fn subscribe(ctx: &Context, args: SubscribeArgs) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    let subscriber = args.who.subscriber()?;
    let s = subscriptions::subscribe(&pool, &args.type_key, &subscriber, args.channels.as_ref())
        .await?;
    if ctx.json {
        return output::json(&s);
    }
    let channels = s
        .channels
        .as_ref()
        .map_or("all its channels".to_owned(), ToString::to_string);
    outln!("subscribed {subscriber} to {} ({channels})", s.type_key);
    Ok(())
}

pub async fn unsubscribe(ctx: &Context, args: UnsubscribeArgs) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    let subscriber = args.who.subscriber()?;
    subscriptions::unsubscribe(&pool, &args.type_key, &subscriber).await?;
    outln!("unsubscribed {subscriber} from {}", args.type_key);
    Ok(())
}

pub async fn set_paused(ctx: &Context, args: UnsubscribeArgs, paused: bool) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    let subscriber = args.who.subscriber()?;
    subscriptions::set_paused(&pool, &args.type_key, &subscriber, paused).await?;
    if paused {
        outln!(
            "paused {subscriber} on {}: kept, but nothing goes to them until `msgpool resume`",
            args.type_key
        );
    } else {
        outln!("resumed {subscriber} on {}", args.type_key);
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this message type's subscriptions
    #[arg(long = "type", value_parser = parse::<TypeKey>)]
    type_key: Option<TypeKey>,
    /// Only this recipient's, including those through their groups
    #[arg(long, value_parser = parse::<RecipientKey>)]
    recipient: Option<RecipientKey>,
    /// Only this group's
    #[arg(long, value_parser = parse::<RecipientKey>)]
    group: Option<RecipientKey>,
}

pub async fn list(ctx: &Context, args: ListArgs) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    let found = subscriptions::list(
        &pool,
        args.type_key.as_ref(),
        args.recipient.as_ref(),
        args.group.as_ref(),
    )
    .await?;
    if ctx.json {
        return output::json(&found);
    }
    output::table(
        &["TYPE", "SUBSCRIBER", "CHANNELS", "PAUSED"],
        found
            .iter()
            .map(|s| {
                vec![
                    s.type_key.to_string(),
                    s.subscriber.to_string(),
                    s.channels
                        .as_ref()
                        .map_or("all".to_owned(), ToString::to_string),
                    if s.paused { "paused" } else { "-" }.to_owned(),
                ]
            })
            .collect(),
    );
    Ok(())
}
