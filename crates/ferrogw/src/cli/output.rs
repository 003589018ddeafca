//! Output: `--format table|json|yaml`, aligned tables, and ANSI colours only
//! when the stream is a terminal (and `NO_COLOR` is unset, `TERM` not `dumb`).

use serde_json::Value;
use std::io::{IsTerminal, Write};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

/// Colours for one output stream.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

fn colors_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

impl Style {
    pub fn stdout() -> Style {
        Style {
            color: std::io::stdout().is_terminal() && colors_allowed(),
        }
    }

    pub fn stderr() -> Style {
        Style {
            color: std::io::stderr().is_terminal() && colors_allowed(),
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }

    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }

    /// An HTTP status, coloured by class.
    pub fn status(&self, code: u16) -> String {
        let s = code.to_string();
        match code {
            200..=299 => self.green(&s),
            400..=499 => self.yellow(&s),
            _ => self.red(&s),
        }
    }
}

/// Number of characters as shown (ANSI escapes excluded).
fn width(s: &str) -> usize {
    let mut n = 0;
    let mut esc = false;
    for c in s.chars() {
        match (esc, c) {
            (false, '\x1b') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// A table with a header row; columns are padded to their widest cell.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders with two spaces between columns; headers bold when `style` is.
    pub fn render(&self, style: Style) -> String {
        let cols = self.headers.len();
        let mut w: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                w[i] = w[i].max(width(c));
            }
        }
        let line = |cells: &[String], bold: bool| -> String {
            let mut out = String::new();
            for (i, c) in cells.iter().enumerate().take(cols) {
                let last = i + 1 == cols;
                let shown = if bold { style.bold(c) } else { c.clone() };
                out.push_str(&shown);
                if !last {
                    out.push_str(&" ".repeat(w[i] - width(c) + 2));
                }
            }
            out.trim_end().to_owned()
        };
        let mut out = line(&self.headers, true);
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r, false));
            out.push('\n');
        }
        out
    }
}

/// A JSON value as a table cell.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Prints `v` as JSON (pretty) or YAML; `false` for the table format (the
/// caller renders its own table).
pub fn print_structured(format: Format, v: &Value) -> bool {
    let text = match format {
        Format::Table => return false,
        Format::Json => serde_json::to_string_pretty(v).unwrap_or_default(),
        Format::Yaml => serde_yaml_ng::to_string(v).unwrap_or_default(),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", text.trim_end());
    true
}

/// Prints one record of a stream of records: one JSON object per line, or
/// one YAML document per record.
pub fn print_record(format: Format, v: &Value) {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Yaml => {
            let _ = write!(
                out,
                "---\n{}",
                serde_yaml_ng::to_string(v).unwrap_or_default()
            );
        }
        _ => {
            let _ = writeln!(out, "{v}");
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_ignore_escapes() {
        let mut t = Table::new(&["NAME", "ENABLED"]);
        t.row(vec!["word-filter".into(), "yes".into()]);
        t.row(vec!["x".into(), Style { color: true }.green("no")]);
        let s = t.render(Style { color: false });
        assert_eq!(
            s,
            "NAME         ENABLED\nword-filter  yes\nx            \x1b[32mno\x1b[0m\n"
        );
        assert_eq!(width("\x1b[1mab\x1b[0m"), 2);
    }
}
