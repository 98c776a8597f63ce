//! The sync state file (`state_dir/sync-state`): this unit's authority and
//! the partner's unit id, kept across restarts. Text, one `key value` per
//! line after a header:
//!
//! ```text
//! tandem-sync-state v1
//! epoch 8167342093
//! generation 12
//! root 3f0c...e1 (64 hex digits)
//! peer b
//! ```
//!
//! `epoch` and `generation` are required; `root` (the shared form's root
//! digest when it was written) and `peer` are optional. In bidirectional
//! mode one `version` line per object keeps its version across restarts:
//! `version SECTION ID STAMP UNIT VECTOR`, the names in hex (UTF-8 bytes),
//! VECTOR `-` or `UNIT:COUNT,...` (units in hex). Unknown keys are refused,
//! so a file of another format is never half-read.

use tandem_config_sync::doc::ObjectKey;
use tandem_config_sync::merge::Version;
use tandem_config_sync::session::Authority;

/// The header line.
pub const HEADER: &str = "tandem-sync-state v1";

/// The longest state file read, in bytes (the version lines of a large
/// bidirectional document).
pub const MAX_STATE_BYTES: u64 = 64 << 20;

/// What the state file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncState {
    /// The unit's authority.
    pub authority: Authority,
    /// The root digest, hex, when written.
    pub root: Option<String>,
    /// The partner's unit id, once heard.
    pub peer: Option<String>,
    /// Bidirectional mode: each object's version.
    pub versions: Vec<(ObjectKey, Version)>,
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if s.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    String::from_utf8(bytes?).ok()
}

fn version_line(key: &ObjectKey, v: &Version) -> String {
    let vector = if v.vector.is_empty() {
        "-".to_string()
    } else {
        v.vector
            .iter()
            .map(|(u, n)| format!("{}:{n}", hex(u)))
            .collect::<Vec<_>>()
            .join(",")
    };
    let unit = if v.unit.is_empty() {
        "-".to_string()
    } else {
        hex(&v.unit)
    };
    let id = if key.id.is_empty() {
        "-".to_string()
    } else {
        hex(&key.id)
    };
    format!(
        "version {} {id} {} {unit} {vector}\n",
        hex(&key.section),
        v.stamp
    )
}

fn parse_version(value: &str) -> Option<(ObjectKey, Version)> {
    let mut parts = value.split(' ');
    let section = unhex(parts.next()?)?;
    let id = match parts.next()? {
        "-" => String::new(),
        h => unhex(h)?,
    };
    let stamp = parts.next()?.parse().ok()?;
    let unit = match parts.next()? {
        "-" => String::new(),
        h => unhex(h)?,
    };
    let mut vector = std::collections::BTreeMap::new();
    match parts.next()? {
        "-" => {}
        list => {
            for item in list.split(',') {
                let (u, n) = item.split_once(':')?;
                vector.insert(unhex(u)?, n.parse().ok()?);
            }
        }
    }
    if parts.next().is_some() || section.is_empty() {
        return None;
    }
    Some((
        ObjectKey::new(section, id),
        Version {
            vector,
            stamp,
            unit,
        },
    ))
}

impl SyncState {
    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut t = format!(
            "{HEADER}\nepoch {}\ngeneration {}\n",
            self.authority.epoch, self.authority.generation
        );
        if let Some(r) = &self.root {
            t.push_str(&format!("root {r}\n"));
        }
        if let Some(p) = &self.peer {
            t.push_str(&format!("peer {p}\n"));
        }
        for (key, v) in &self.versions {
            t.push_str(&version_line(key, v));
        }
        t
    }

    /// Reads the file's text; the error says what is wrong, by line.
    pub fn parse(text: &str) -> Result<SyncState, String> {
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, l)) if l.trim_end() == HEADER => {}
            _ => return Err(format!("the first line is not {HEADER:?}")),
        }
        let (mut epoch, mut generation) = (None, None);
        let mut state = SyncState::default();
        for (n, line) in lines {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let value = value.trim();
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("line {}: {key} {value:?} is not a number", n + 1))
            };
            match key {
                "epoch" => epoch = Some(number()?),
                "generation" => generation = Some(number()?),
                "root" if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    state.root = Some(value.to_ascii_lowercase());
                }
                "root" => return Err(format!("line {}: root is not 64 hex digits", n + 1)),
                "peer" if !value.is_empty() && value.len() <= 64 => {
                    state.peer = Some(value.to_string());
                }
                "peer" => return Err(format!("line {}: peer is not a unit id", n + 1)),
                "version" => match parse_version(value) {
                    Some(kv) => state.versions.push(kv),
                    None => return Err(format!("line {}: not a version line", n + 1)),
                },
                other => return Err(format!("line {}: unknown key {other:?}", n + 1)),
            }
        }
        match (epoch, generation) {
            (Some(epoch), Some(generation)) => {
                state.authority = Authority { epoch, generation };
                Ok(state)
            }
            _ => Err("epoch and generation are both required".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_file_round_trips_and_refuses_what_is_not_one() {
        let s = SyncState {
            authority: Authority {
                epoch: 81,
                generation: 12,
            },
            root: Some("ab".repeat(32)),
            peer: Some("b".into()),
            versions: vec![
                (
                    ObjectKey::new("app.vs", "web 1"),
                    Version {
                        vector: [("a".to_string(), 3), ("b".to_string(), 1)].into(),
                        stamp: 77,
                        unit: "a".into(),
                    },
                ),
                (ObjectKey::new("global", ""), Version::default()),
            ],
        };
        let text = s.to_text();
        assert!(text.starts_with("tandem-sync-state v1\nepoch 81\ngeneration 12\n"));
        assert_eq!(SyncState::parse(&text), Ok(s));
        let minimal = SyncState::parse("tandem-sync-state v1\nepoch 0\ngeneration 3\n").unwrap();
        assert_eq!(minimal.authority.generation, 3);
        assert_eq!(minimal.peer, None);
        for bad in [
            "",
            "tandem-sync-state v2\nepoch 1\ngeneration 1\n",
            "tandem-sync-state v1\nepoch 1\n",
            "tandem-sync-state v1\nepoch x\ngeneration 1\n",
            "tandem-sync-state v1\nepoch 1\ngeneration 1\nroot 12\n",
            "tandem-sync-state v1\nepoch 1\ngeneration 1\ncolour red\n",
            "tandem-sync-state v1\nepoch 99999999999999999999\ngeneration 1\n",
            "tandem-sync-state v1\nepoch 1\ngeneration 1\nversion zz - 1 - -\n",
            "tandem-sync-state v1\nepoch 1\ngeneration 1\nversion 61 - x - -\n",
            "tandem-sync-state v1\nepoch 1\ngeneration 1\nversion 61 - 1 - 61\n",
            "tandem-sync-state v1\nepoch 1\ngeneration 1\nversion 61 - 1 - - extra\n",
        ] {
            assert!(SyncState::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
