//! What `tandemd sniff` prints: packet lines (those of `tandemd decode`),
//! findings and summary tables, as text or one JSON object per line.
//! docs/sniff.md lists every JSON field; the names are an interface.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;
use tandem_time::Instant;

use super::diagnose::{family_name, Diagnosis, Finding, RouterSummary};
use super::Report;
use crate::decode::{proto_label, Decoded};
use crate::render::{self, mac, Record};

/// Seconds since the capture started, to the millisecond.
fn time_s(t: Instant) -> f64 {
    t.since_origin().as_millis() as f64 / 1000.0
}

/// `{"type":"packet", "time_s", ...}` and every key of `tandemd decode
/// --json`.
#[derive(Debug, Serialize)]
struct PacketLine {
    #[serde(rename = "type")]
    ty: &'static str,
    time_s: f64,
    #[serde(flatten)]
    record: Record,
}

/// `{"type":"finding", ...}`.
#[derive(Debug, Serialize)]
struct FindingLine<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    time_s: f64,
    kind: &'static str,
    interface: &'a str,
    family: Option<&'static str>,
    vrid: Option<u8>,
    sources: Vec<String>,
    message: &'a str,
    hint: &'static str,
    count: u64,
    error: Option<&'a str>,
}

/// One row of `{"type":"summary"}`'s `routers`.
#[derive(Debug, Serialize)]
struct RouterLine {
    family: &'static str,
    vrid: u8,
    protocols: Vec<&'static str>,
    active: Option<String>,
    active_mac: Option<String>,
    priority: Option<u8>,
    advbase: Option<u8>,
    advskew: Option<u8>,
    demotion: Option<u8>,
    interval_cs: Option<u16>,
    addresses: Vec<String>,
    speakers: Vec<String>,
    adverts: u64,
    since_last_s: f64,
    state: &'static str,
    findings: BTreeMap<&'static str, u64>,
}

/// `{"type":"summary", ...}`.
#[derive(Debug, Serialize)]
struct SummaryLine<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    time_s: f64,
    interface: &'a str,
    frames: u64,
    packets: u64,
    malformed: u64,
    findings: u64,
    dropped_findings: u64,
    dropped_speakers: u64,
    routers: Vec<RouterLine>,
}

fn strings(a: &[IpAddr]) -> Vec<String> {
    a.iter().map(ToString::to_string).collect()
}

/// `ok`, `silent` or `split_brain`: a router's state in the summary.
fn state(r: &RouterSummary) -> &'static str {
    if r.silent {
        "silent"
    } else if r.split_brain {
        "split_brain"
    } else {
        "ok"
    }
}

impl RouterLine {
    fn new(r: &RouterSummary) -> RouterLine {
        RouterLine {
            family: family_name(r.family),
            vrid: r.vrid,
            protocols: r.protocols.iter().map(|k| k.name()).collect(),
            active: r.active.map(|a| a.to_string()),
            active_mac: r.active_mac.as_ref().map(mac),
            priority: r.priority,
            advbase: r.carp.map(|c| c.advbase),
            advskew: r.carp.map(|c| c.advskew),
            demotion: r.carp.map(|c| c.demotion),
            interval_cs: r.interval_cs,
            addresses: strings(&r.addresses),
            speakers: strings(&r.speakers),
            adverts: r.adverts,
            since_last_s: r.since_last.as_millis() as f64 / 1000.0,
            state: state(r),
            findings: r.findings.iter().map(|(k, n)| (k.name(), *n)).collect(),
        }
    }
}

/// Prints in one of the two forms.
#[derive(Debug, Clone)]
pub struct Printer {
    interface: String,
    json: bool,
}

impl Printer {
    /// A printer for captures on `interface`; JSON lines if `json`.
    pub fn new(interface: &str, json: bool) -> Printer {
        Printer {
            interface: interface.to_owned(),
            json,
        }
    }

    /// One packet: `tandemd decode`'s line or object (with `"type"` and
    /// `"time_s"` added to the object).
    pub fn packet(&self, out: &mut dyn Write, at: Instant, d: &Decoded) -> io::Result<()> {
        if self.json {
            let line = PacketLine {
                ty: "packet",
                time_s: time_s(at),
                record: Record::new(d),
            };
            writeln!(out, "{}", serde_json::to_string(&line).unwrap_or_default())
        } else {
            writeln!(out, "{}", render::human(d))
        }
    }

    /// One finding: `!! kind message (hint)` or its object.
    pub fn finding(&self, out: &mut dyn Write, f: &Finding) -> io::Result<()> {
        if self.json {
            let line = FindingLine {
                ty: "finding",
                time_s: time_s(f.at),
                kind: f.kind.name(),
                interface: &self.interface,
                family: f.family.map(family_name),
                vrid: f.vrid,
                sources: strings(&f.sources),
                message: &f.message,
                hint: f.kind.hint(),
                count: f.count,
                error: f.error.as_deref(),
            };
            writeln!(out, "{}", serde_json::to_string(&line).unwrap_or_default())
        } else {
            writeln!(
                out,
                "!! {} {} (hint: {})",
                f.kind.name(),
                f.message,
                f.kind.hint()
            )
        }
    }

    /// The table of virtual routers, or its object.
    pub fn summary(
        &self,
        out: &mut dyn Write,
        now: Instant,
        diag: &Diagnosis,
        report: &Report,
    ) -> io::Result<()> {
        let routers = diag.summary(now);
        if self.json {
            let line = SummaryLine {
                ty: "summary",
                time_s: time_s(now),
                interface: &self.interface,
                frames: report.frames,
                packets: report.packets,
                malformed: diag.malformed(),
                findings: report.findings,
                dropped_findings: diag.dropped_findings(),
                dropped_speakers: diag.dropped_speakers(),
                routers: routers.iter().map(RouterLine::new).collect(),
            };
            return writeln!(out, "{}", serde_json::to_string(&line).unwrap_or_default());
        }
        writeln!(
            out,
            "== summary at {:.3}s on {}: {} virtual router{}, {} packets, {} malformed, {} findings",
            time_s(now),
            self.interface,
            routers.len(),
            if routers.len() == 1 { "" } else { "s" },
            report.packets,
            diag.malformed(),
            report.findings
        )?;
        if routers.is_empty() {
            return Ok(());
        }
        let mut rows = vec![[
            "family",
            "vrid",
            "proto",
            "active",
            "mac",
            "prio/skew",
            "int",
            "addresses",
            "speakers",
            "adverts",
            "last",
            "state",
            "findings",
        ]
        .map(str::to_owned)];
        for r in &routers {
            let line = RouterLine::new(r);
            let prio = match (r.priority, r.carp) {
                (Some(p), _) => p.to_string(),
                (None, Some(c)) => format!("{}/{} dem {}", c.advbase, c.advskew, c.demotion),
                _ => "-".into(),
            };
            let dash = |s: Option<String>| s.unwrap_or_else(|| "-".into());
            let findings = line
                .findings
                .iter()
                .map(|(k, n)| format!("{k}x{n}"))
                .collect::<Vec<_>>()
                .join(",");
            rows.push([
                line.family.to_owned(),
                r.vrid.to_string(),
                r.protocols
                    .iter()
                    .map(|k| proto_label(*k))
                    .collect::<Vec<_>>()
                    .join("+"),
                dash(line.active.clone()),
                dash(line.active_mac.clone()),
                prio,
                dash(
                    r.interval_cs
                        .map(|c| format!("{}.{:02}s", c / 100, c % 100)),
                ),
                if line.addresses.is_empty() {
                    "-".into()
                } else {
                    line.addresses.join(",")
                },
                r.speakers.len().to_string(),
                r.adverts.to_string(),
                format!("{:.1}s", line.since_last_s),
                line.state.to_owned(),
                if findings.is_empty() {
                    "-".into()
                } else {
                    findings
                },
            ]);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
            .collect();
        for row in rows {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(s, w)| format!("{s:<w$}"))
                .collect();
            writeln!(out, "  {}", cells.join("  ").trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sniff::diagnose::ObservedAdvert;
    use tandem_wire::{ChecksumMode, Family, Kind};

    fn advert(src: &str, prio: u8) -> ObservedAdvert {
        ObservedAdvert {
            family: Family::V4,
            vrid: 51,
            proto: Kind::Vrrp3,
            src: src.parse().unwrap(),
            mac: Some([0, 0, 0x5e, 0, 1, 51]),
            ttl: 255,
            priority: Some(prio),
            carp: None,
            interval_cs: 100,
            addresses: vec!["192.0.2.100".parse().unwrap()],
            checksum_ok: true,
            checksum_mode: Some(ChecksumMode::PseudoHeader),
            auth_ok: None,
            vrrp2_auth: None,
        }
    }

    /// Two speakers sending for 3 s: a split brain.
    fn split() -> (Diagnosis, Vec<Finding>) {
        let mut d = Diagnosis::new("eth0");
        let mut f = Vec::new();
        for t in 0..4u64 {
            d.observe(Instant::from_millis(t * 1000), &advert("192.0.2.1", 200));
            d.observe(
                Instant::from_millis(t * 1000 + 500),
                &advert("192.0.2.2", 100),
            );
            f.extend(std::iter::from_fn(|| {
                d.poll(Instant::from_millis(t * 1000 + 500))
            }));
        }
        (d, f)
    }

    #[test]
    fn text_findings_and_table() {
        let (d, f) = split();
        let p = Printer::new("eth0", false);
        let mut out = Vec::new();
        p.finding(&mut out, &f[0]).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert!(
            line.starts_with("!! split_brain vrid 51 (ipv4) on eth0: 192.0.2.1 and 192.0.2.2 both send adverts (priorities 200 and 100)"),
            "{line}"
        );
        assert!(line.contains("(hint: both act as Active"), "{line}");
        let mut out = Vec::new();
        let report = Report {
            frames: 8,
            packets: 8,
            findings: 1,
        };
        p.summary(&mut out, Instant::from_millis(3600), &d, &report)
            .unwrap();
        let table = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("== summary at 3.600s on eth0: 1 virtual router, 8 packets"),
            "{table}"
        );
        assert!(
            lines[1].split_whitespace().eq([
                "family",
                "vrid",
                "proto",
                "active",
                "mac",
                "prio/skew",
                "int",
                "addresses",
                "speakers",
                "adverts",
                "last",
                "state",
                "findings"
            ]),
            "{table}"
        );
        assert!(
            lines[2].split_whitespace().eq([
                "ipv4",
                "51",
                "VRRPv3",
                "192.0.2.2",
                "00:00:5e:00:01:33",
                "100",
                "1.00s",
                "192.0.2.100",
                "2",
                "8",
                "0.1s",
                "split_brain",
                "split_brainx1"
            ]),
            "{table}"
        );
    }

    #[test]
    fn json_findings_and_summary_have_the_documented_keys() {
        let (d, f) = split();
        let p = Printer::new("eth0", true);
        let mut out = Vec::new();
        p.finding(&mut out, &f[0]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        for k in [
            "type",
            "time_s",
            "kind",
            "interface",
            "family",
            "vrid",
            "sources",
            "message",
            "hint",
            "count",
            "error",
        ] {
            assert!(v.get(k).is_some(), "{k} missing: {v}");
        }
        assert_eq!(v["type"], "finding");
        assert_eq!(v["kind"], "split_brain");
        assert_eq!(v["sources"], serde_json::json!(["192.0.2.1", "192.0.2.2"]));
        let mut out = Vec::new();
        p.summary(&mut out, Instant::from_millis(3600), &d, &Report::default())
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["type"], "summary");
        let r = &v["routers"][0];
        for k in [
            "family",
            "vrid",
            "protocols",
            "active",
            "active_mac",
            "priority",
            "advbase",
            "advskew",
            "demotion",
            "interval_cs",
            "addresses",
            "speakers",
            "adverts",
            "since_last_s",
            "state",
            "findings",
        ] {
            assert!(r.get(k).is_some(), "{k} missing: {r}");
        }
        assert_eq!(r["state"], "split_brain");
        assert_eq!(r["findings"]["split_brain"], 1);
    }
}
