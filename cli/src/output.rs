//! How commands print: aligned tables and `key: value` lines for people, JSON with `--json`.

use std::io::Write as _;

use serde::Serialize;
use unicode_width::UnicodeWidthStr;

/// `println!` that ends the process quietly when the reader has gone (`msgpool inbox R |
/// head`), as Unix tools do, instead of panicking on EPIPE.
macro_rules! outln {
    () => { $crate::output::line(format_args!("")) };
    ($($arg:tt)*) => { $crate::output::line(format_args!($($arg)*)) };
}
pub(crate) use outln;

pub fn line(args: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing to standard output: {error}");
            std::process::exit(1);
        }
        std::process::exit(0);
    }
}

/// A time as people here read it: this machine's local zone (`TZ`), with the offset so that
/// no one mistakes UTC for local, e.g. `2026-11-26 08:00:00+08:00`. JSON keeps RFC 3339.
pub fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M:%S%:z")
        .to_string()
}

/// Prints `value` as pretty JSON.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints rows under headers, columns aligned by display width (so 张三 lines up).
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(w - cell.width() + 2));
            }
        }
        outln!("{}", out.trim_end());
    };
    line(headers.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Prints `label: value` lines, labels aligned.
pub fn fields(fields: &[(&str, String)]) {
    let width = fields.iter().map(|(l, _)| l.width()).max().unwrap_or(0);
    for (label, value) in fields {
        outln!("{label}:{}{value}", " ".repeat(width - label.width() + 1));
    }
}

pub fn or_dash(value: Option<&str>) -> String {
    value.filter(|v| !v.is_empty()).unwrap_or("-").to_owned()
}

pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}
