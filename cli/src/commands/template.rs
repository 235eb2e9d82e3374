//! `msgpool template`: per-channel templates.

use clap::Subcommand;
use msgpool::admin::templates;
use msgpool::domain::{Channel, TypeKey};

use super::parse;
use crate::{Context, output};

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// Set the subject and body of one channel of a type; variables come from the payload: {{ count }}
    Set {
        #[arg(value_parser = parse::<TypeKey>)]
        type_key: TypeKey,
        #[arg(long, value_parser = parse::<Channel>)]
        channel: Channel,
        /// Subject line (email, inbox, chat title); kept as it is when not given
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        body: String,
    },
}

pub async fn run(ctx: &Context, cmd: TemplateCommand) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    match cmd {
        TemplateCommand::Set {
            type_key,
            channel,
            subject,
            body,
        } => {
            let t = templates::set(&pool, &type_key, channel, subject.as_deref(), &body).await?;
            if ctx.json {
                return output::json(&t);
            }
            println!("set the {channel} template of {type_key}");
        }
    }
    Ok(())
}
