//! `msgpool inbox`: read a recipient's in-site inbox, mark messages read.

use clap::Args;
use msgpool::domain::RecipientKey;
use msgpool::inbox;

use crate::args::parse;
use crate::output::outln;
use crate::{Context, output};

#[derive(Debug, Args)]
pub struct InboxArgs {
    #[arg(value_parser = parse::<RecipientKey>)]
    recipient: RecipientKey,
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
}

pub async fn run(ctx: &Context, args: InboxArgs) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    let who = &args.recipient;
    if args.mark_all_read || args.mark_read.is_some() {
        let changed = inbox::mark_read(&pool, who, args.mark_read.as_deref()).await?;
        if ctx.json {
            return output::json(&serde_json::json!({ "marked_read": changed }));
        }
        outln!("marked {changed} message(s) read");
        return Ok(());
    }
    let items = inbox::list(&pool, who, args.unread, args.page, args.page_size).await?;
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
                    i.type_key.clone(),
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
