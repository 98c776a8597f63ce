//! keepalived.conf as a tree of statements.
//!
//! The format: one statement a line, its words split at white space; a
//! word in double quotes may hold white space; `{` and `}` are words of
//! their own and open and close a statement's block; `!` and `#` start a
//! comment. Lines are preprocessed as keepalived does: `include GLOB`
//! (relative to the including file's directory, `*`, `?` and `[...]` in
//! any component, matches in name order) splices the files in its place;
//! `$NAME=VALUE` defines a parameter and `$NAME` / `${NAME}` use it;
//! `@ID` / `@^ID` lines (kept or dropped by keepalived's config id) are
//! reported and dropped.
//!
//! Limits: a file of at most [`MAX_FILE_BYTES`], includes [`MAX_DEPTH`]
//! deep and [`MAX_FILES`] files in all, [`MAX_WORDS`] words, blocks
//! nested [`MAX_NESTING`] deep. Past a limit the rest is dropped, with a
//! notice; nothing panics.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::import::Notice;

/// The largest file read (keepalived's own files are a few KiB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// How deep includes nest.
pub const MAX_DEPTH: usize = 8;
/// How many files are read in all.
pub const MAX_FILES: usize = 256;
/// How many words are read in all.
pub const MAX_WORDS: usize = 1_000_000;
/// How deep blocks nest.
pub const MAX_NESTING: usize = 16;

/// Where a statement is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    /// The file, as given or as the include named it.
    pub file: String,
    /// The line, from 1.
    pub line: usize,
}

/// One statement: its words, and its block if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stmt {
    /// The keyword, then its arguments; never empty.
    pub words: Vec<String>,
    /// Where its first word is.
    pub loc: Loc,
    /// The statements between its `{` and `}`.
    pub block: Option<Vec<Stmt>>,
}

impl Stmt {
    /// The keyword.
    pub fn key(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }

    /// Argument `i` (0: the first after the keyword).
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.words.get(i + 1).map(String::as_str)
    }

    /// The block's statements (none without a block).
    pub fn children(&self) -> &[Stmt] {
        self.block.as_deref().unwrap_or(&[])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Eol,
}

/// The reader's state across files.
struct Lexer {
    toks: Vec<(Tok, Loc)>,
    notices: Vec<Notice>,
    vars: HashMap<String, String>,
    files: usize,
    words: usize,
    stack: Vec<PathBuf>,
    full: bool,
}

impl Lexer {
    fn note(&mut self, loc: &Loc, message: impl Into<String>) {
        self.notices.push(Notice {
            file: loc.file.clone(),
            line: loc.line,
            message: message.into(),
        });
    }
}

/// Reads `path` and its includes into statements, with the notices of
/// what was dropped. `Err` only when `path` itself cannot be read.
pub fn read_file(path: &Path) -> Result<(Vec<Stmt>, Vec<Notice>), crate::import::ImportError> {
    let bytes = crate::file::read_limited(path, MAX_FILE_BYTES).map_err(|source| {
        crate::import::ImportError::Read {
            path: path.display().to_string(),
            source,
        }
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| crate::import::ImportError::NotText {
        path: path.display().to_string(),
        at: e.valid_up_to(),
    })?;
    Ok(read_text(text, &path.display().to_string(), path.parent()))
}

/// Reads `text` (the file `name`, in directory `dir` for relative
/// includes; `None`: includes are refused) into statements.
pub fn read_text(text: &str, name: &str, dir: Option<&Path>) -> (Vec<Stmt>, Vec<Notice>) {
    let mut lx = Lexer {
        toks: Vec::new(),
        notices: Vec::new(),
        vars: HashMap::new(),
        files: 1,
        words: 0,
        stack: Vec::new(),
        full: false,
    };
    lex(&mut lx, text, name, dir.map(Path::to_path_buf), 0);
    let mut pos = 0;
    let toks = std::mem::take(&mut lx.toks);
    let stmts = parse_block(&mut lx, &toks, &mut pos, 0, None);
    (stmts, lx.notices)
}

fn lex(lx: &mut Lexer, text: &str, name: &str, dir: Option<PathBuf>, depth: usize) {
    let mut continued: Option<(String, String, Loc)> = None;
    for (n, raw) in text.lines().enumerate() {
        if lx.full {
            return;
        }
        let loc = Loc {
            file: name.to_string(),
            line: n + 1,
        };
        // A multi-line parameter definition: `$NAME=... \` lines.
        if let Some((var, mut value, at)) = continued.take() {
            let (more, goes_on) = match raw.strip_suffix('\\') {
                Some(m) => (m, true),
                None => (raw, false),
            };
            value.push('\n');
            value.push_str(more.trim());
            if goes_on {
                continued = Some((var, value, at));
            } else {
                lx.note(
                    &at,
                    format!("\"${var}\" is a multi-line definition: not supported; write its statements out where it is used"),
                );
            }
            continue;
        }
        let line = raw.trim_start();
        if let Some(def) = line.strip_prefix('$') {
            if let Some((var, value)) = def.split_once('=') {
                let var = var.trim();
                if !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    let value = value.trim();
                    if let Some(v) = value.strip_suffix('\\') {
                        continued = Some((var.to_string(), v.trim().to_string(), loc));
                    } else {
                        lx.vars.insert(var.to_string(), value.to_string());
                    }
                    continue;
                }
            }
        }
        if let Some(rest) = line.strip_prefix('@') {
            let id = rest.split_whitespace().next().unwrap_or("");
            lx.note(
                &loc,
                format!("\"@{id}\" lines apply to one keepalived config id (-i): dropped; keep the lines this node needs, without the prefix"),
            );
            continue;
        }
        if line.starts_with('~') {
            lx.note(&loc, "\"~SEQ\" lines (keepalived's sequences) are not supported: dropped; write the statements out");
            continue;
        }
        let line = substitute(lx, line, &loc);
        let words = split(&line);
        if words
            .first()
            .is_some_and(|w| *w == Tok::Word("include".into()))
        {
            match words.get(1) {
                Some(Tok::Word(pattern)) => include(lx, pattern, dir.as_deref(), &loc, depth),
                _ => lx.note(&loc, "\"include\" without a file: dropped"),
            }
            continue;
        }
        if words.is_empty() {
            continue;
        }
        for w in words {
            lx.words += 1;
            if lx.words > MAX_WORDS {
                lx.note(
                    &loc,
                    format!(
                        "more than {MAX_WORDS} words: the rest of the configuration is dropped"
                    ),
                );
                lx.full = true;
                return;
            }
            lx.toks.push((w, loc.clone()));
        }
        lx.toks.push((Tok::Eol, loc));
    }
    if let Some((var, _, at)) = continued {
        lx.note(
            &at,
            format!("\"${var}\" definition runs to the end of the file: dropped"),
        );
    }
}

/// `$NAME` and `${NAME}` of defined parameters, replaced.
fn substitute(lx: &mut Lexer, line: &str, loc: &Loc) -> String {
    if !line.contains('$') {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(end) => (&b[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match lx.vars.get(name) {
            Some(v) if !name.is_empty() => {
                out.push_str(v);
                rest = &after[len..];
            }
            _ => {
                if !name.is_empty() {
                    let name = name.to_string();
                    lx.note(loc, format!("\"${name}\" is not defined: left as written"));
                }
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One line's words: quoted strings whole, `{` and `}` apart, comments
/// cut.
fn split(line: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let flush = |cur: &mut String, toks: &mut Vec<Tok>| {
        if !cur.is_empty() {
            toks.push(Tok::Word(std::mem::take(cur)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                flush(&mut cur, &mut toks);
                let mut s = String::new();
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"') | Some('\\')) => {
                            if let Some(e) = chars.next() {
                                s.push(e);
                            }
                        }
                        _ => s.push(q),
                    }
                }
                toks.push(Tok::Word(s));
            }
            '!' | '#' => break,
            '{' => {
                flush(&mut cur, &mut toks);
                toks.push(Tok::Open);
            }
            '}' => {
                flush(&mut cur, &mut toks);
                toks.push(Tok::Close);
            }
            c if c.is_whitespace() => flush(&mut cur, &mut toks),
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut toks);
    toks
}

fn include(lx: &mut Lexer, pattern: &str, dir: Option<&Path>, loc: &Loc, depth: usize) {
    let Some(dir) = dir else {
        lx.note(
            loc,
            format!("include {pattern:?}: no directory to read it from: dropped"),
        );
        return;
    };
    if depth + 1 > MAX_DEPTH {
        lx.note(
            loc,
            format!("include {pattern:?}: includes nest more than {MAX_DEPTH} deep: dropped"),
        );
        return;
    }
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        dir.join(pattern)
    };
    let matches = glob(&full);
    if matches.is_empty() {
        lx.note(loc, format!("include {pattern:?} matches no file: dropped"));
        return;
    }
    for path in matches {
        if lx.full {
            return;
        }
        if lx.stack.contains(&path) {
            lx.note(
                loc,
                format!(
                    "include {}: the file includes itself: dropped",
                    path.display()
                ),
            );
            continue;
        }
        lx.files += 1;
        if lx.files > MAX_FILES {
            lx.note(
                loc,
                format!("include {pattern:?}: more than {MAX_FILES} files: the rest are dropped"),
            );
            return;
        }
        let name = path.display().to_string();
        let text = match crate::file::read_limited(&path, MAX_FILE_BYTES) {
            Ok(b) => match String::from_utf8(b) {
                Ok(t) => t,
                Err(e) => {
                    let at = e.utf8_error().valid_up_to();
                    lx.note(
                        loc,
                        format!("include {name}: not UTF-8 text at byte {at}: dropped"),
                    );
                    continue;
                }
            },
            Err(e) => {
                lx.note(loc, format!("include {name}: cannot read it: {e}: dropped"));
                continue;
            }
        };
        lx.stack.push(path.clone());
        let sub = path.parent().map(Path::to_path_buf);
        lex(lx, &text, &name, sub, depth + 1);
        lx.stack.pop();
    }
}

/// The files `pattern` matches, in name order: `*`, `?` and `[...]` in
/// any component; no match of a directory is followed into a loop, as
/// each component is matched once.
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut found = vec![PathBuf::new()];
    for comp in pattern.components() {
        let part = comp.as_os_str().to_string_lossy();
        let wild = part.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for base in &found {
            if !wild {
                next.push(base.join(comp.as_os_str()));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = rd
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| (!n.starts_with('.') || part.starts_with('.')) && matches(&part, n))
                .take(MAX_FILES + 1)
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        found = next;
        if found.len() > MAX_FILES {
            found.truncate(MAX_FILES + 1);
        }
    }
    found.retain(|p| p.is_file());
    found
}

/// Whether `name` matches the shell pattern `pat`.
fn matches(pat: &str, name: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with one backtrack point for `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, len)) = class(&p[pi..], n[ni]) {
                        if ok {
                            pi += len;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A `[...]` class at the start of `p`: whether `c` is in it, and its
/// length; `None` if it is not closed.
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(1), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                hit = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                hit = true;
            }
            i += 1;
        }
    }
    None
}

fn parse_block(
    lx: &mut Lexer,
    toks: &[(Tok, Loc)],
    pos: &mut usize,
    depth: usize,
    opened: Option<&Loc>,
) -> Vec<Stmt> {
    let mut out = Vec::new();
    while *pos < toks.len() {
        let (tok, loc) = &toks[*pos];
        match tok {
            Tok::Eol => *pos += 1,
            Tok::Close => {
                *pos += 1;
                if opened.is_some() {
                    return out;
                }
                lx.note(loc, "\"}\" closes no block: dropped");
            }
            Tok::Open => {
                *pos += 1;
                lx.note(
                    loc,
                    "\"{\" opens a block of no statement: the block is dropped",
                );
                let _ = parse_block(lx, toks, pos, depth + 1, Some(loc));
            }
            Tok::Word(_) => {
                let loc = loc.clone();
                let mut words = Vec::new();
                while let Some((Tok::Word(w), _)) = toks.get(*pos) {
                    words.push(w.clone());
                    *pos += 1;
                }
                let mut block = None;
                if let Some((Tok::Open, open)) = toks.get(*pos) {
                    *pos += 1;
                    if depth + 1 > MAX_NESTING {
                        lx.note(
                            open,
                            format!(
                                "blocks nest more than {MAX_NESTING} deep: the block is dropped"
                            ),
                        );
                        skip_block(toks, pos);
                    } else {
                        block = Some(parse_block(lx, toks, pos, depth + 1, Some(open)));
                    }
                }
                out.push(Stmt { words, loc, block });
            }
        }
    }
    if let Some(open) = opened {
        let open = open.clone();
        lx.note(
            &open,
            "this \"{\" is never closed: its block runs to the end of the configuration",
        );
    }
    out
}

/// Skips to the `}` matching an already consumed `{`.
fn skip_block(toks: &[(Tok, Loc)], pos: &mut usize) {
    let mut level = 1usize;
    while *pos < toks.len() && level > 0 {
        match toks[*pos].0 {
            Tok::Open => level += 1,
            Tok::Close => level -= 1,
            _ => {}
        }
        *pos += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[Stmt]) -> Vec<Vec<String>> {
        s.iter().map(|s| s.words.clone()).collect()
    }

    #[test]
    fn blocks_comments_quotes() {
        let (s, n) = read_text(
            "! comment\nvrrp_instance VI_1 {   # trailing\n  state MASTER\n  virtual_ipaddress { 192.0.2.1/24 dev eth0 }\n  notify \"/bin/n.sh arg\"\n}\n",
            "k.conf",
            None,
        );
        assert!(n.is_empty(), "{n:?}");
        assert_eq!(words(&s), vec![vec!["vrrp_instance", "VI_1"]]);
        let c = s[0].children();
        assert_eq!(c[0].words, vec!["state", "MASTER"]);
        assert_eq!(c[0].loc.line, 3);
        assert_eq!(
            c[1].children()[0].words,
            vec!["192.0.2.1/24", "dev", "eth0"]
        );
        assert_eq!(c[2].words, vec!["notify", "/bin/n.sh arg"]);
    }

    #[test]
    fn variables_conditionals_and_stray_braces() {
        let (s, n) = read_text(
            "$IF=eth1\n@main router_id x\ninterface $IF ${IF}x $NOPE\n}\nx {\n",
            "k.conf",
            None,
        );
        assert_eq!(words(&s)[0], vec!["interface", "eth1", "eth1x", "$NOPE"]);
        let msgs: Vec<String> = n.iter().map(|n| n.to_string()).collect();
        assert!(msgs[0].starts_with("k.conf:2: \"@main\" lines"), "{msgs:?}");
        assert!(
            msgs[1].starts_with("k.conf:3: \"$NOPE\" is not defined"),
            "{msgs:?}"
        );
        assert!(
            msgs[2].starts_with("k.conf:4: \"}\" closes no block"),
            "{msgs:?}"
        );
        assert!(
            msgs[3].starts_with("k.conf:5: this \"{\" is never closed"),
            "{msgs:?}"
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let text = "a {\n".repeat(100) + &"}\n".repeat(100);
        let (s, n) = read_text(&text, "k.conf", None);
        assert_eq!(s.len(), 1);
        assert!(n.iter().any(|n| n.message.contains("nest more than")));
    }

    #[test]
    fn glob_patterns() {
        assert!(matches("*.conf", "a.conf"));
        assert!(!matches("*.conf", "a.conf.bak"));
        assert!(matches("vi_?.conf", "vi_1.conf"));
        assert!(matches("[a-c]*", "beta"));
        assert!(!matches("[!a-c]*", "beta"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(matches("[", "["));
    }

    #[test]
    fn includes_relative_globbed_and_bounded() {
        let dir = std::env::temp_dir().join(format!("tandem-import-lex-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("conf.d")).unwrap();
        std::fs::write(dir.join("conf.d/b.conf"), "b_stmt 2\n").unwrap();
        std::fs::write(dir.join("conf.d/a.conf"), "a_stmt 1\n").unwrap();
        std::fs::write(dir.join("loop.conf"), "include loop.conf\n").unwrap();
        std::fs::write(
            dir.join("main.conf"),
            "include conf.d/*.conf\ninclude missing-*.conf\ninclude loop.conf\n",
        )
        .unwrap();
        let (s, n) = read_file(&dir.join("main.conf")).unwrap();
        let got: Vec<&str> = s.iter().map(Stmt::key).collect();
        assert_eq!(got, ["a_stmt", "b_stmt"]);
        assert!(s[0].loc.file.ends_with("conf.d/a.conf"));
        assert!(
            n.iter().any(|n| n.message.contains("matches no file")),
            "{n:?}"
        );
        assert!(
            n.iter().any(|n| n.message.contains("includes itself")),
            "{n:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = read_text(&text, "k.conf", None);
        }

        #[test]
        fn any_keepalived_like_text_never_panics(
            parts in proptest::collection::vec(
                proptest::sample::select(vec!["{", "}", "\"", "!", "#", "$A=", "$A", "${A}", "@x ", "\n", " ", "include x", "vrrp_instance", "\\"]),
                0..200,
            )
        ) {
            let _ = read_text(&parts.concat(), "k.conf", None);
        }
    }
}
