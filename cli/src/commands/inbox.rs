//! `msgpool inbox`: read a recipient's in-site inbox; mark read, archive, delete.

use clap::Args;
use msgpool::domain::RecipientKey;
use msgpool::inbox;

use crate::args::parse;
use crate::output::outln;
use crate::{Context, output};

/// `msgpool inbox RECIPIENT [...]` reads an inbox; `msgpool inbox link RECIPIENT` gives the
/// signed link to it.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct InboxCommand {
    #[command(subcommand)]
    command: Option<LinkCommand>,
    #[command(flatten)]
    args: InboxArgs,
}

#[derive(Debug, clap::Subcommand)]
enum LinkCommand {
    /// The signed link to a recipient's inbox page, for a back-office application to give its
    /// signed-in user (also: SELECT msgpool.inbox_token(recipient))
    Link {
        #[arg(value_parser = parse::<RecipientKey>)]
        recipient: RecipientKey,
        /// Where msgpool web is reached
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
        /// A link for the unread bell only, which other pages embed: it counts, and reads
        /// nothing
        #[arg(long)]
        bell: bool,
        /// The link stops working after this long, e.g. '30 days' (default: when the
        /// recipient's secret is rotated)
        #[arg(long, value_name = "INTERVAL")]
        expires_in: Option<String>,
    },
    /// A new secret for one recipient's inbox links (or, without one, everyone's): every
    /// link given out so far stops working
    RotateSecret {
        #[arg(value_parser = parse::<RecipientKey>)]
        recipient: Option<RecipientKey>,
    },
}

#[derive(Debug, Args)]
pub struct InboxArgs {
    #[arg(value_parser = parse::<RecipientKey>, required = true)]
    recipient: Option<RecipientKey>,
    /// Only unread messages
    #[arg(long)]
    unread: bool,
    #[arg(long, default_value_t = 1)]
    page: i32,
    #[arg(long, default_value_t = 20)]
    page_size: i32,
    /// Mark these inbox ids read (comma-separated)
    #[arg(long, value_delimiter = ',', conflicts_with = "mark_all_read")]
    mark_read: Option<Vec<i64>>,
    /// Mark everything in the inbox read
    #[arg(long)]
    mark_all_read: bool,
    /// Show one message in full (and mark it read)
    #[arg(long, value_name = "ID")]
    show: Option<i64>,
    /// Archive these inbox ids (comma-separated): out of the inbox, kept
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    archive: Option<Vec<i64>>,
    /// Bring these archived ids back into the inbox
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    unarchive: Option<Vec<i64>>,
    /// Delete these inbox ids for good
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    delete: Option<Vec<i64>>,
    /// List the archived messages instead
    #[arg(long)]
    archived: bool,
}

pub async fn run(ctx: &Context, command: InboxCommand) -> anyhow::Result<()> {
    match command.command {
        Some(LinkCommand::Link {
            recipient,
            base_url,
            bell,
            expires_in,
        }) => link(ctx, &recipient, &base_url, bell, expires_in.as_deref()).await,
        Some(LinkCommand::RotateSecret { recipient }) => {
            let rotated =
                msgpool::inbox_link::rotate_secret(&ctx.pool().await?, recipient.as_ref()).await?;
            match recipient {
                Some(r) => outln!(
                    "inbox links of {r}: new secret; every link given out before no longer works"
                ),
                None => outln!(
                    "inbox links of {rotated} recipients: new secrets; every link given out before no longer works"
                ),
            }
            Ok(())
        }
        None => read(ctx, command.args).await,
    }
}

async fn link(
    ctx: &Context,
    recipient: &RecipientKey,
    base_url: &str,
    bell: bool,
    expires_in: Option<&str>,
) -> anyhow::Result<()> {
    use msgpool::inbox_link::Scope;
    let scope = if bell { Scope::Count } else { Scope::Inbox };
    let token =
        msgpool::inbox_link::token(&ctx.pool().await?, recipient, scope, expires_in).await?;
    let base = base_url.trim_end_matches('/');
    let path = msgpool::inbox_link::path(recipient.as_str(), &token);
    let url = match scope {
        Scope::Inbox => format!("{base}{path}"),
        Scope::Count => format!("{base}{}", path.replacen("?token=", "/bell?token=", 1)),
    };
    if ctx.json {
        return output::json(
            &serde_json::json!({ "recipient": recipient, "token": token, "url": url }),
        );
    }
    outln!("{url}");
    Ok(())
}

async fn read(ctx: &Context, args: InboxArgs) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    let Some(who) = &args.recipient else {
        anyhow::bail!("which recipient's inbox? msgpool inbox RECIPIENT");
    };
    if args.mark_all_read || args.mark_read.is_some() {
        let changed = inbox::mark_read(&pool, who, args.mark_read.as_deref()).await?;
        if ctx.json {
            return output::json(&serde_json::json!({ "marked_read": changed }));
        }
        outln!("marked {changed} message(s) read");
        return Ok(());
    }
    if let Some(id) = args.show {
        let item = inbox::show(&pool, who, id).await?;
        if ctx.json {
            return output::json(&item);
        }
        let mut fields = vec![
            ("id", item.id.to_string()),
            ("type", item.type_key.to_string()),
            ("urgency", item.urgency.to_string()),
            ("received", output::time(item.created_at)),
        ];
        if item.duplicate_count > 0 {
            fields.push((
                "seen",
                format!(
                    "×{}, last {}",
                    item.duplicate_count + 1,
                    output::time(item.last_seen_at)
                ),
            ));
        }
        if let Some(at) = item.archived_at {
            fields.push(("archived", output::time(at)));
        }
        fields.push(("subject", item.subject.clone()));
        output::fields(&fields);
        outln!("\n{}", item.body);
        return Ok(());
    }
    let changed = if let Some(ids) = &args.archive {
        Some(("archived", inbox::archive(&pool, who, ids, true).await?))
    } else if let Some(ids) = &args.unarchive {
        Some((
            "brought_back",
            inbox::archive(&pool, who, ids, false).await?,
        ))
    } else if let Some(ids) = &args.delete {
        Some(("deleted", inbox::delete(&pool, who, ids).await?))
    } else {
        None
    };
    if let Some((done, count)) = changed {
        if ctx.json {
            return output::json(&serde_json::json!({ done: count }));
        }
        outln!("{} {count} message(s)", done.replace('_', " "));
        return Ok(());
    }
    let page = inbox::Page {
        unread_only: args.unread,
        archived: args.archived,
        number: args.page,
        size: args.page_size,
    };
    let items = inbox::list(&pool, who, page).await?;
    let unread = inbox::unread_count(&pool, who).await?;
    if ctx.json {
        return output::json(&serde_json::json!({ "unread": unread, "items": items }));
    }
    outln!("{who}: {unread} unread");
    output::table(
        &["ID", "", "WHEN", "URGENCY", "TYPE", "SUBJECT"],
        items
            .iter()
            .map(|i| {
                vec![
                    i.id.to_string(),
                    if i.read_at.is_none() { "●" } else { " " }.to_owned(),
                    output::time(i.created_at),
                    i.urgency.to_string(),
                    i.type_key.to_string(),
                    {
                        let text = if i.subject.is_empty() {
                            &i.body
                        } else {
                            &i.subject
                        };
                        match i.duplicate_count {
                            0 => text.clone(),
                            n => format!("{text} ×{}", n + 1),
                        }
                    },
                ]
            })
            .collect(),
    );
    Ok(())
}
