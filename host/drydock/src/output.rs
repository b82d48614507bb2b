//! Output for people (tables, field lists) and for scripts (`--json`).

use serde_json::Value;

/// Python's `str.title()` with `_` shown as a space, as the original CLI prints field
/// names: `activation_requested_at` → `Activation Requested At`.
pub fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut prev_letter = false;
    for c in name.chars() {
        if c.is_alphabetic() {
            if prev_letter {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            prev_letter = true;
        } else {
            out.push(if c == '_' { ' ' } else { c });
            prev_letter = false;
        }
    }
    out
}

/// Python truthiness, as the original CLI uses it to skip fields.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A value as a cell or a field: strings bare, null empty, the rest as JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `field` of an object as text (empty when missing or null).
pub fn field(obj: &Value, key: &str) -> String {
    obj.get(key).map(text).unwrap_or_default()
}

/// Pretty JSON on stdout, for scripts.
pub fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).expect("a JSON value serializes"));
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
}

/// A table drawn like the original CLI's (prettytable): `+---+` rules, headers and
/// cells centred unless a column says otherwise.
pub struct Table {
    headers: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            align: vec![Align::Center; headers.len()],
            rows: Vec::new(),
        }
    }

    pub fn align(mut self, column: usize, align: Align) -> Table {
        self.align[column] = align;
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// One row from an object's fields, in the table's column order.
    pub fn row_from(&mut self, obj: &Value, keys: &[&str]) {
        self.row(keys.iter().map(|k| field(obj, k)).collect());
    }

    pub fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| width(&r[i]))
                    .chain(std::iter::once(width(&self.headers[i])))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let rule = widths.iter().fold("+".to_string(), |acc, w| acc + &"-".repeat(w + 2) + "+");
        let line = |cells: &[String], header: bool| {
            let mut s = "|".to_string();
            for (i, cell) in cells.iter().enumerate() {
                let align = if header { Align::Center } else { self.align[i] };
                s.push(' ');
                s.push_str(&justify(cell, widths[i], align));
                s.push_str(" |");
            }
            s
        };
        let mut out = vec![rule.clone(), line(&self.headers, true), rule.clone()];
        out.extend(self.rows.iter().map(|r| line(r, false)));
        out.push(rule);
        out.join("\n")
    }

    /// `\n{title}\n{table}\n`, as the original prints a titled table.
    pub fn print_titled(&self, title: &str) {
        println!("\n{title}\n{}\n", self.render());
    }
}

/// prettytable's centring: odd excess goes right for odd-length text, left otherwise.
fn justify(text: &str, width: usize, align: Align) -> String {
    let len = text.chars().count();
    let excess = width.saturating_sub(len);
    let (left, right) = match align {
        Align::Left => (0, excess),
        Align::Center if excess % 2 == 1 && len % 2 == 1 => (excess / 2, excess / 2 + 1),
        Align::Center if excess % 2 == 1 => (excess / 2 + 1, excess / 2),
        Align::Center => (excess / 2, excess / 2),
    };
    format!("{}{text}{}", " ".repeat(left), " ".repeat(right))
}

/// Aligned `key: value` lines under a title, for one object (`get` commands).
pub fn print_record(title: &str, obj: &Value, keys: &[&str]) {
    println!("{title}");
    let w = keys.iter().map(|k| k.len()).max().unwrap_or(0);
    for k in keys {
        println!("  {:<w$}  {}", format!("{k}:"), field(obj, k), w = w + 1);
    }
}

/// Now, as the server writes timestamps (UTC, milliseconds, `Z`).
pub fn now_utc() -> String {
    drydock_server::timestamp::now()
}

/// `1 execution`, `2 executions`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("{n} {one}") } else { format!("{n} {many}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn title_case_matches_python() {
        assert_eq!(title_case("activation_requested_at"), "Activation Requested At");
        assert_eq!(title_case("status"), "Status");
        assert_eq!(title_case("db-nodes"), "Db-Nodes");
    }

    #[test]
    fn table_centres_like_prettytable() {
        let mut t = Table::new(&["id", "deployment_id", "workflow_id", "status"]);
        t.row_from(
            &json!({"id": "17ed9952-cd65-4433-9036-5b8dd2025e91", "deployment_id": "dep1",
                    "workflow_id": "sleep", "status": "started"}),
            &["id", "deployment_id", "workflow_id", "status"],
        );
        assert_eq!(
            t.render(),
            "\
+--------------------------------------+---------------+-------------+---------+
|                  id                  | deployment_id | workflow_id |  status |
+--------------------------------------+---------------+-------------+---------+
| 17ed9952-cd65-4433-9036-5b8dd2025e91 |      dep1     |    sleep    | started |
+--------------------------------------+---------------+-------------+---------+"
        );
    }

    #[test]
    fn falsy_fields_are_skipped() {
        assert!(!truthy(&json!("")));
        assert!(!truthy(&json!(null)));
        assert!(!truthy(&json!([])));
        assert!(truthy(&json!("x")));
    }
}
