//! `ferrogw plugins`: the configured plugins (`GET /admin/plugins`).

use super::client::Client;
use super::output::{cell, Style, Table};
use super::spinner::Spinner;
use super::{fail, Exit, Global};
use serde_json::Value;

pub fn run(g: &Global) -> Exit {
    super::block_on(async {
        let c = match Client::new(g) {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        let spin = Spinner::start("asking the gateway");
        let res = c.get_json("/admin/plugins").await;
        drop(spin);
        let v = match res {
            Ok(v) => v,
            Err(e) => return fail(&e),
        };
        if super::output::print_structured(g.format, &v) {
            return Exit::Ok;
        }
        // a bare array; tolerate a `{data: [...]}` wrapper
        let list = v
            .as_array()
            .or_else(|| v.get("data").and_then(Value::as_array))
            .cloned()
            .unwrap_or_default();
        if list.is_empty() {
            println!("no plugins configured");
            return Exit::Ok;
        }
        let s = Style::stdout();
        let mut t = Table::new(&["NAME", "TYPE", "ENABLED"]);
        for p in &list {
            let enabled = p.get("enabled").and_then(Value::as_bool).unwrap_or(false);
            t.row(vec![
                cell(&p["name"]),
                cell(&p["type"]),
                if enabled { s.green("yes") } else { s.dim("no") },
            ]);
        }
        print!("{}", t.render(s));
        Exit::Ok
    })
}
