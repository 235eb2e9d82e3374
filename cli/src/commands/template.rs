//! `msgpool template`: per-channel templates.

use clap::Subcommand;
use msgpool::admin::templates;
use msgpool::domain::{Channel, TypeKey};
use msgpool::render::Rendered;

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
        /// The body; needed for a new template, kept as it is when not given (with --html: the
        /// plain-text part)
        #[arg(long)]
        body: Option<String>,
        /// Email only: an HTML part, sent with the body as multipart/alternative; payload
        /// values are HTML-escaped in it. '' removes it.
        #[arg(long)]
        html: Option<String>,
        /// Subject of a digest (several messages for one recipient): {{ count }}, {{ type_name }}
        #[arg(long)]
        digest_subject: Option<String>,
        /// Body of a digest: {% for m in messages %}{{ m.body }}{% endfor %}; default lists each message
        #[arg(long)]
        digest_body: Option<String>,
    },
    /// List the templates of a type, or of every type
    List {
        #[arg(value_parser = parse::<TypeKey>)]
        type_key: Option<TypeKey>,
    },
    /// Remove a channel's template: the channel goes back to the built-in one
    Remove {
        #[arg(value_parser = parse::<TypeKey>)]
        type_key: TypeKey,
        #[arg(long, value_parser = parse::<Channel>)]
        channel: Channel,
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
            html,
            digest_subject,
            digest_body,
        } => {
            let spec = templates::TemplateSpec {
                subject,
                body,
                html_body: html,
                digest_subject,
                digest_body,
            };
            let t = templates::set(&pool, &type_key, channel, &spec).await?;
            if ctx.json {
                return output::json(&t);
            }
            outln!("set the {channel} template of {type_key}");
        }
        TemplateCommand::List { type_key } => {
            let found = templates::list(&pool, type_key.as_ref()).await?;
            if ctx.json {
                return output::json(&found);
            }
            output::table(
                &["TYPE", "CHANNEL", "SUBJECT", "BODY", "HTML", "DIGEST"],
                found
                    .iter()
                    .map(|t| {
                        vec![
                            t.type_key.to_string(),
                            t.channel.to_string(),
                            output::or_dash(Some(&t.subject)),
                            first_line(&t.body),
                            if t.html_body.is_some() { "yes" } else { "-" }.to_owned(),
                            if t.digest_body.is_some() {
                                "own"
                            } else {
                                "built-in"
                            }
                            .to_owned(),
                        ]
                    })
                    .collect(),
            );
        }
        TemplateCommand::Remove { type_key, channel } => {
            templates::remove(&pool, &type_key, channel).await?;
            outln!(
                "removed the {channel} template of {type_key}: it goes out with the built-in one"
            );
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
                    .map(|p| {
                        let mut shown = as_json(&p.message);
                        shown["channel"] = serde_json::json!(p.channel);
                        if let Some(digest) = &p.digest {
                            shown["digest"] = as_json(digest);
                        }
                        shown
                    })
                    .collect();
                return output::json(&json);
            }
            for p in previews {
                outln!("== {} ==", p.channel);
                print_rendered(&p.message);
                if let Some(digest) = &p.digest {
                    outln!(
                        "-- as a digest of {} such messages --",
                        templates::DIGEST_SAMPLE
                    );
                    print_rendered(digest);
                }
            }
        }
    }
    Ok(())
}

fn as_json(rendered: &Result<Rendered, String>) -> serde_json::Value {
    match rendered {
        Ok(r) => serde_json::json!({"subject": r.subject, "body": r.body, "html": r.html}),
        Err(e) => serde_json::json!({"error": e}),
    }
}

fn print_rendered(rendered: &Result<Rendered, String>) {
    match rendered {
        Ok(r) => {
            outln!("subject: {}\n{}\n", r.subject, r.body);
            if let Some(html) = &r.html {
                outln!("-- HTML part --\n{html}\n");
            }
        }
        Err(e) => outln!("error: {e} (this delivery would be parked as dead)\n"),
    }
}

/// A body's first line, cut to fit a table.
fn first_line(body: &str) -> String {
    let line = body.lines().next().unwrap_or_default();
    match line.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}
