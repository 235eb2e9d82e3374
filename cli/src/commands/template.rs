//! `msgpool template`: per-channel templates.

use clap::Subcommand;
use msgpool::admin::templates;
use msgpool::domain::{Channel, TypeKey};

use crate::args::parse;
use crate::output::outln;
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
        /// The body; needed for a new template, kept as it is when not given
        #[arg(long)]
        body: Option<String>,
        /// Subject of a digest (several messages for one recipient): {{ count }}, {{ type_name }}
        #[arg(long)]
        digest_subject: Option<String>,
        /// Body of a digest: {% for m in messages %}{{ m.body }}{% endfor %}; default lists each message
        #[arg(long)]
        digest_body: Option<String>,
    },
    /// Show what each channel of a type would send for a payload
    Preview {
        #[arg(value_parser = parse::<TypeKey>)]
        type_key: TypeKey,
        /// The payload, a JSON object
        #[arg(long, default_value = "{}")]
        data: String,
        /// The recipient name to render with
        #[arg(long, default_value = "张三")]
        recipient_name: String,
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
            digest_subject,
            digest_body,
        } => {
            let spec = templates::TemplateSpec {
                subject,
                body,
                digest_subject,
                digest_body,
            };
            let t = templates::set(&pool, &type_key, channel, &spec).await?;
            if ctx.json {
                return output::json(&t);
            }
            outln!("set the {channel} template of {type_key}");
        }
        TemplateCommand::Preview {
            type_key,
            data,
            recipient_name,
        } => {
            let payload = crate::args::payload(&data)?;
            let previews = templates::preview(&pool, &type_key, &payload, &recipient_name).await?;
            if ctx.json {
                let json: Vec<_> = previews
                    .iter()
                    .map(|(channel, r)| match r {
                        Ok(r) => serde_json::json!({"channel": channel, "subject": r.subject, "body": r.body}),
                        Err(e) => serde_json::json!({"channel": channel, "error": e}),
                    })
                    .collect();
                return output::json(&json);
            }
            for (channel, rendered) in previews {
                outln!("== {channel} ==");
                match rendered {
                    Ok(r) => outln!("subject: {}\n{}\n", r.subject, r.body),
                    Err(e) => outln!("error: {e} (this delivery would be parked as dead)\n"),
                }
            }
        }
    }
    Ok(())
}
