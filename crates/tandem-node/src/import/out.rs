//! The TOML the importers write: tables of fields in a fixed order, with
//! comments, quoted as TOML basic strings.

use std::fmt::Write;

/// A field's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Str(String),
    Int(i64),
    /// Seconds and the like; written without a needless `.0`.
    Num(f64),
    Bool(bool),
    List(Vec<Val>),
    Inline(Vec<(String, Val)>),
}

/// One `[[KIND]]` table.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Table {
    /// `check`, `instance`, `sync_group`.
    pub(crate) kind: &'static str,
    /// Comment lines above it (without `# `).
    pub(crate) comments: Vec<String>,
    pub(crate) fields: Vec<(String, Val)>,
}

impl Table {
    pub(crate) fn new(kind: &'static str) -> Table {
        Table {
            kind,
            ..Table::default()
        }
    }

    pub(crate) fn set(&mut self, key: &str, v: Val) {
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some(f) => f.1 = v,
            None => self.fields.push((key.to_string(), v)),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Val> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<Val> {
        let i = self.fields.iter().position(|(k, _)| k == key)?;
        Some(self.fields.remove(i).1)
    }
}

/// A TOML basic string.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn num(f: f64) -> String {
    if !f.is_finite() {
        return "0".into();
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        let s = format!("{f:.6}");
        let s = s.trim_end_matches('0');
        s.trim_end_matches('.').to_string()
    }
}

fn val(v: &Val) -> String {
    match v {
        Val::Str(s) => quote(s),
        Val::Int(i) => i.to_string(),
        Val::Num(f) => num(*f),
        Val::Bool(b) => b.to_string(),
        Val::List(l) => {
            let items: Vec<String> = l.iter().map(val).collect();
            format!("[{}]", items.join(", "))
        }
        Val::Inline(fields) => {
            let items: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{k} = {}", val(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
    }
}

/// A comment line: one line, no control character.
fn comment_line(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("# {clean}").trim_end().to_string()
}

/// The whole file: `header` comment lines, then the tables.
pub(crate) fn render(header: &[String], tables: &[Table]) -> String {
    let mut out = String::new();
    for h in header {
        out.push_str(&comment_line(h));
        out.push('\n');
    }
    for t in tables {
        out.push('\n');
        for c in &t.comments {
            out.push_str(&comment_line(c));
            out.push('\n');
        }
        let _ = writeln!(out, "[[{}]]", t.kind);
        for (k, v) in &t.fields {
            // A track list reads better one entry a line.
            match v {
                Val::List(items) if items.iter().any(|i| matches!(i, Val::Inline(_))) => {
                    let _ = writeln!(out, "{k} = [");
                    for i in items {
                        let _ = writeln!(out, "  {},", val(i));
                    }
                    out.push_str("]\n");
                }
                _ => {
                    let _ = writeln!(out, "{k} = {}", val(v));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_numbers() {
        assert_eq!(quote("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(f64::NAN), "0");
        let mut t = Table::new("instance");
        t.set("name", Val::Str("x".into()));
        t.set(
            "track",
            Val::List(vec![Val::Inline(vec![(
                "interface".into(),
                Val::Str("eth1".into()),
            )])]),
        );
        let text = render(&["h\u{7}".into()], &[t]);
        assert_eq!(
            text,
            "# h\n\n[[instance]]\nname = \"x\"\ntrack = [\n  { interface = \"eth1\" },\n]\n"
        );
        let parsed: Result<toml::Table, _> = text.parse();
        assert!(parsed.is_ok());
    }
}
