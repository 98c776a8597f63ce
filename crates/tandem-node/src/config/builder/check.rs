//! [`CheckBuilder`]: a health check (`[[check]]`, docs/checks.md) for
//! [`Builder::check`](super::Builder::check), and the track entries that
//! follow one ([`InstanceBuilder::track_check`](super::InstanceBuilder::track_check)).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::super::raw::{nowhere, RawCheck, S};

/// One health check. Each setting is the file field of the same name,
/// with the same default, and is checked by
/// [`Builder::build`](super::Builder::build) as in a file: a setting
/// that does not fit the kind (`user` on an http check, `verify` on a
/// plain http one) gets the file's error.
///
/// ```
/// use std::time::Duration;
/// use tandem_election::TrackEffect;
/// use tandem_node::config::{Builder, CheckBuilder, InstanceBuilder};
///
/// let config = Builder::new()
///     .check(
///         CheckBuilder::http("page", "https://192.0.2.10/health")
///             .host("www.example.net")
///             .expect(200, 299)
///             .body_contains("ok")
///             .interval(Duration::from_secs(1))
///             .fall(2),
///     )
///     .instance(
///         InstanceBuilder::vrrp3("eth0", 51)
///             .address("192.0.2.100".parse().unwrap(), 24)
///             .track_check("page", Some(TrackEffect::Weight(60))),
///     )
///     .build()
///     .expect("a valid configuration");
/// assert_eq!(config.checks[0].name, "page");
/// ```
#[derive(Debug, Clone)]
pub struct CheckBuilder {
    pub(super) raw: RawCheck,
}

fn secs(d: Duration) -> Option<S<f64>> {
    Some(nowhere(d.as_secs_f64()))
}

impl CheckBuilder {
    fn named(name: &str) -> RawCheck {
        RawCheck {
            name: Some(nowhere(name.to_string())),
            ..RawCheck::default()
        }
    }

    /// `script = COMMAND`: `/bin/sh -c COMMAND` passes when it exits 0.
    pub fn script(name: &str, command: impl Into<String>) -> CheckBuilder {
        let mut raw = CheckBuilder::named(name);
        raw.script = Some(nowhere(command.into()));
        CheckBuilder { raw }
    }

    /// `file = PATH`: the integer in the file grades the priority
    /// (keepalived's `track_file`). Absolute.
    pub fn file(name: &str, path: impl Into<PathBuf>) -> CheckBuilder {
        let mut raw = CheckBuilder::named(name);
        raw.file = Some(nowhere(path.into().to_string_lossy().into_owned()));
        CheckBuilder { raw }
    }

    /// `tcp = ADDRESS:PORT`: passes once a connection is made.
    pub fn tcp(name: &str, addr: SocketAddr) -> CheckBuilder {
        let mut raw = CheckBuilder::named(name);
        raw.tcp = Some(nowhere(addr.to_string()));
        CheckBuilder { raw }
    }

    /// `http = URL`: an `http://` or `https://` URL whose host is an IP
    /// address.
    pub fn http(name: &str, url: impl Into<String>) -> CheckBuilder {
        let mut raw = CheckBuilder::named(name);
        raw.http = Some(nowhere(url.into()));
        CheckBuilder { raw }
    }

    /// `user`: a script runs as this user.
    pub fn user(mut self, user: impl Into<String>) -> CheckBuilder {
        self.raw.user = Some(nowhere(user.into()));
        self
    }

    /// `source`: tcp and http connect from this address.
    pub fn source(mut self, source: IpAddr) -> CheckBuilder {
        self.raw.source = Some(nowhere(source.to_string()));
        self
    }

    /// `host`: http's Host header (and https's server name).
    pub fn host(mut self, host: impl Into<String>) -> CheckBuilder {
        self.raw.host = Some(nowhere(host.into()));
        self
    }

    /// Adds the statuses `from..=to` to `expect` (default `[200]`).
    pub fn expect(mut self, from: u16, to: u16) -> CheckBuilder {
        let v = if from == to {
            toml::Value::Integer(i64::from(from))
        } else {
            toml::Value::String(format!("{from}-{to}"))
        };
        let list = self.raw.expect.get_or_insert_with(|| nowhere(Vec::new()));
        list.get_mut().push(nowhere(v));
        self
    }

    /// `body_contains`: the body must hold this text.
    pub fn body_contains(mut self, text: impl Into<String>) -> CheckBuilder {
        self.raw.body_contains = Some(nowhere(text.into()));
        self
    }

    /// `verify`: https checks the server's certificate (default true).
    pub fn verify(mut self, on: bool) -> CheckBuilder {
        self.raw.verify = Some(nowhere(on));
        self
    }

    /// `ca_file`: https trusts the CAs in this PEM file. Absolute.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> CheckBuilder {
        self.raw.ca_file = Some(nowhere(path.into().to_string_lossy().into_owned()));
        self
    }

    /// `interval`: from one run's start to the next.
    pub fn interval(mut self, interval: Duration) -> CheckBuilder {
        self.raw.interval = secs(interval);
        self
    }

    /// `timeout`: a run not done by then fails (at most the interval).
    pub fn timeout(mut self, timeout: Duration) -> CheckBuilder {
        self.raw.timeout = secs(timeout);
        self
    }

    /// `rise`: passing runs in a row that bring the check up.
    pub fn rise(mut self, n: u32) -> CheckBuilder {
        self.raw.rise = Some(nowhere(i64::from(n)));
        self
    }

    /// `fall`: failing runs in a row that bring it down.
    pub fn fall(mut self, n: u32) -> CheckBuilder {
        self.raw.fall = Some(nowhere(i64::from(n)));
        self
    }

    /// `weight`: the weight of track entries that give none.
    pub fn weight(mut self, weight: u8) -> CheckBuilder {
        self.raw.weight = Some(nowhere(i64::from(weight)));
        self
    }
}

#[cfg(test)]
mod tests {
    use tandem_election::TrackEffect;

    use super::super::{Builder, InstanceBuilder};
    use super::*;
    use crate::config::parse;

    fn web() -> InstanceBuilder {
        InstanceBuilder::vrrp3("eth0", 51)
            .name("web")
            .address("192.0.2.100".parse().unwrap(), 24)
    }

    #[test]
    fn checks_equal_the_file_for_the_same_settings() {
        let built = Builder::new()
            .check(
                CheckBuilder::script("nginx", "pidof nginx")
                    .user("nobody")
                    .weight(30),
            )
            .check(CheckBuilder::file("lb", "/run/lb/weight"))
            .check(
                CheckBuilder::tcp("db", "192.0.2.10:5432".parse().unwrap())
                    .source("192.0.2.1".parse().unwrap())
                    .interval(Duration::from_secs(1))
                    .timeout(Duration::from_millis(500))
                    .rise(2)
                    .fall(3),
            )
            .check(
                CheckBuilder::http("page", "https://[fd00::10]:8443/health")
                    .host("www.example.net")
                    .expect(200, 200)
                    .expect(300, 399)
                    .body_contains("ok")
                    .ca_file("/etc/tandemd/ca.pem"),
            )
            .check(CheckBuilder::http("plain", "http://192.0.2.10/").verify(true))
            .instance(
                web()
                    .track_check("nginx", None)
                    .track_check("db", Some(TrackEffect::Fault))
                    .track_check("page", Some(TrackEffect::Weight(60)))
                    .track_file_check("lb", -2),
            )
            .build_all();
        let file = parse(
            r#"
[[check]]
name = "nginx"
script = "pidof nginx"
user = "nobody"
weight = 30

[[check]]
name = "lb"
file = "/run/lb/weight"

[[check]]
name = "db"
tcp = "192.0.2.10:5432"
source = "192.0.2.1"
interval = 1
timeout = 0.5
rise = 2
fall = 3

[[check]]
name = "page"
http = "https://[fd00::10]:8443/health"
host = "www.example.net"
expect = [200, "300-399"]
body_contains = "ok"
ca_file = "/etc/tandemd/ca.pem"

[[check]]
name = "plain"
http = "http://192.0.2.10/"
verify = true

[[instance]]
name = "web"
interface = "eth0"
vrid = 51
addresses = ["192.0.2.100/24"]
track = [
  { check = "nginx" },
  { check = "db", fault = true },
  { check = "page", weight = 60 },
  { check = "lb", weight = -2 },
]
"#,
        );
        // verify on a plain http check is refused, by both, the same way.
        let (Err(built), Err(file)) = (built, file) else {
            panic!("verify on http:// was accepted")
        };
        assert_eq!(built[0].problem(), file.problem());
        assert_eq!(built[0].to_string(), "check \"plain\".verify: verify applies to https checks only, and this one is a plain http check");
    }

    #[test]
    fn valid_checks_build_to_the_files_configuration() {
        let built = Builder::new()
            .check(CheckBuilder::file("lb", "/run/lb/weight"))
            .check(CheckBuilder::http("page", "http://192.0.2.10/").expect(200, 299))
            .instance(
                web()
                    .track_file_check("lb", -2)
                    .track_check("page", Some(TrackEffect::Weight(60))),
            )
            .build()
            .unwrap();
        let file = parse(
            "[[check]]\nname = \"lb\"\nfile = \"/run/lb/weight\"\n\n\
             [[check]]\nname = \"page\"\nhttp = \"http://192.0.2.10/\"\nexpect = [\"200-299\"]\n\n\
             [[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\n\
             track = [{ check = \"lb\", weight = -2 }, { check = \"page\", weight = 60 }]\n",
        )
        .unwrap();
        assert_eq!(built, file);
        assert_eq!(built.instances[0].track_checks[0].factor, -2);
        // A track of a check that is not configured: the file's error.
        let e = Builder::new()
            .instance(web().track_check("nope", None))
            .build()
            .unwrap_err();
        assert!(
            e.to_string().contains("no [[check]] is named \"nope\""),
            "{e}"
        );
    }
}
