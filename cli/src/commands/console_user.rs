//! `msgpool console-user`: who may sign in to the console, as viewer, operator or admin.

use std::io::BufRead as _;

use clap::Subcommand;
use msgpool::admin::console_users;
use msgpool::domain::{ConsoleRole, RecipientKey};

use crate::args::parse;
use crate::output::outln;
use crate::{Context, output};

#[derive(Debug, Subcommand)]
pub enum ConsoleUserCommand {
    /// Add a console user (or give one a new role and password); the password is read from
    /// standard input, its first line
    Add {
        #[arg(value_parser = parse::<RecipientKey>)]
        name: RecipientKey,
        /// viewer (reads), operator (also retries and cancels) or admin (also configures)
        #[arg(long, value_parser = parse::<ConsoleRole>)]
        role: ConsoleRole,
    },
    /// List the console users and their roles
    List,
    /// Remove a console user; their sessions end when the console next checks
    Remove {
        #[arg(value_parser = parse::<RecipientKey>)]
        name: RecipientKey,
    },
}

pub async fn run(ctx: &Context, cmd: ConsoleUserCommand) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    match cmd {
        ConsoleUserCommand::Add { name, role } => {
            // not on the command line, where ps and the shell's history would keep it
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            let user = console_users::set(&pool, &name, role, password).await?;
            if ctx.json {
                return output::json(&user);
            }
            outln!("console user {} is {}", user.name, user.role);
        }
        ConsoleUserCommand::List => {
            let users = console_users::list(&pool).await?;
            if ctx.json {
                return output::json(&users);
            }
            output::table(
                &["name", "role", "enabled", "added"],
                users
                    .iter()
                    .map(|u| {
                        vec![
                            u.name.to_string(),
                            u.role.to_string(),
                            if u.enabled { "yes" } else { "no" }.to_owned(),
                            output::time(u.created_at),
                        ]
                    })
                    .collect(),
            );
        }
        ConsoleUserCommand::Remove { name } => {
            console_users::remove(&pool, &name).await?;
            outln!("removed console user {name}");
        }
    }
    Ok(())
}
