//! The service manager's notification socket (systemd's `sd_notify`
//! protocol): one datagram per message, `KEY=VALUE` lines, to the Unix
//! socket named by `$NOTIFY_SOCKET` (a path, or `@name` in the abstract
//! namespace).
//!
//! [`Notifier::from_env`] reads the environment once, at start, and takes
//! the variables out of it, so hooks and scripts tandemd starts do not
//! inherit them (a child that sent `READY=1` or `WATCHDOG=1` on the
//! node's behalf would lie to the service manager). The socket does not
//! block: a message that cannot be sent at once is lost, and the caller
//! counts it.
//!
//! The messages tandemd sends (docs/packaging.md): `READY=1` once it runs,
//! `STATUS=...` when the node's light or states change, `RELOADING=1` and
//! `READY=1` around a reload, `STOPPING=1` when it stops, `WATCHDOG=1`
//! from the loop every half watchdog period.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// The longest `NOTIFY_SOCKET` value: a Unix socket address holds 108
/// bytes, less the terminating NUL of a path.
pub const MAX_ADDRESS: usize = 107;

/// The shortest watchdog period accepted: a shorter one would make the
/// loop wake too often to be useful (systemd's own minimum is 1 s; tests
/// use less).
pub const MIN_WATCHDOG: Duration = Duration::from_millis(20);

/// Why the notification settings in the environment are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// `NOTIFY_SOCKET` is set but empty.
    #[error("NOTIFY_SOCKET is empty")]
    Empty,
    /// `NOTIFY_SOCKET` is neither an absolute path nor `@name`.
    #[error("NOTIFY_SOCKET {0:?} is neither an absolute path nor an abstract name (@name)")]
    NotAnAddress(String),
    /// `NOTIFY_SOCKET` does not fit a Unix socket address.
    #[error(
        "NOTIFY_SOCKET is {0} bytes long, more than the {MAX_ADDRESS} a Unix socket address holds"
    )]
    TooLong(usize),
    /// `WATCHDOG_USEC` is not a whole number of microseconds.
    #[error("WATCHDOG_USEC {0:?} is not a whole number of microseconds")]
    BadWatchdog(String),
    /// `WATCHDOG_USEC` is below [`MIN_WATCHDOG`].
    #[error("WATCHDOG_USEC {0} is below the shortest period tandemd accepts (20 ms)")]
    WatchdogTooShort(u64),
    /// The socket could not be opened.
    #[error("notification socket: {0}")]
    Socket(String),
}

/// Where notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A socket file.
    Path(std::path::PathBuf),
    /// A name in the abstract namespace (written `@name`).
    Abstract(Vec<u8>),
}

impl Address {
    /// Parses a `NOTIFY_SOCKET` value.
    pub fn parse(value: &str) -> Result<Address, NotifyError> {
        if value.is_empty() {
            return Err(NotifyError::Empty);
        }
        if value.len() > MAX_ADDRESS {
            return Err(NotifyError::TooLong(value.len()));
        }
        if let Some(name) = value.strip_prefix('@') {
            if name.is_empty() {
                return Err(NotifyError::NotAnAddress(value.to_string()));
            }
            return Ok(Address::Abstract(name.as_bytes().to_vec()));
        }
        if value.starts_with('/') {
            return Ok(Address::Path(value.into()));
        }
        Err(NotifyError::NotAnAddress(value.to_string()))
    }

    fn socket_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Address::Path(p) => SocketAddr::from_pathname(p),
            Address::Abstract(name) => SocketAddr::from_abstract_name(name),
        }
    }
}

/// The watchdog period from `WATCHDOG_USEC` and `WATCHDOG_PID`: `None`
/// when there is no watchdog, or it watches another process.
pub fn watchdog_period(
    usec: Option<&str>,
    pid: Option<&str>,
    own_pid: u32,
) -> Result<Option<Duration>, NotifyError> {
    let Some(usec) = usec else {
        return Ok(None);
    };
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok() != Some(own_pid) {
            return Ok(None);
        }
    }
    let n: u64 = usec
        .trim()
        .parse()
        .map_err(|_| NotifyError::BadWatchdog(usec.to_string()))?;
    let period = Duration::from_micros(n);
    if period < MIN_WATCHDOG {
        return Err(NotifyError::WatchdogTooShort(n));
    }
    Ok(Some(period))
}

/// The `STATUS=` message: one line, no control characters, at most 200
/// bytes.
pub fn status_message(text: &str) -> String {
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.len() > 200 {
        let mut end = 200;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
    }
    format!("STATUS={line}")
}

/// An open notification socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    address: SocketAddr,
    /// The watchdog period, when the service manager watches this process.
    pub watchdog: Option<Duration>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`, removes
    /// them from the environment, and opens the socket. `Ok(None)`: no
    /// service manager is listening.
    pub fn from_env() -> Result<Option<Notifier>, NotifyError> {
        let socket = std::env::var("NOTIFY_SOCKET").ok();
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            std::env::remove_var(key);
        }
        let Some(socket) = socket else {
            return Ok(None);
        };
        let address = Address::parse(&socket)?;
        let watchdog = watchdog_period(usec.as_deref(), pid.as_deref(), std::process::id())?;
        Notifier::open(&address, watchdog).map(Some)
    }

    /// Opens a non-blocking socket that sends to `address`.
    pub fn open(address: &Address, watchdog: Option<Duration>) -> Result<Notifier, NotifyError> {
        let fail = |e: io::Error| NotifyError::Socket(e.to_string());
        let socket = UnixDatagram::unbound().map_err(fail)?;
        socket.set_nonblocking(true).map_err(fail)?;
        Ok(Notifier {
            socket,
            address: address.socket_addr().map_err(fail)?,
            watchdog,
        })
    }

    /// Sends one message (`READY=1`, `STATUS=...`, lines joined by `\n`).
    pub fn send(&self, message: &str) -> io::Result<()> {
        self.socket
            .send_to_addr(message.as_bytes(), &self.address)
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            Address::parse("/run/systemd/notify"),
            Ok(Address::Path("/run/systemd/notify".into()))
        );
        assert_eq!(
            Address::parse("@/org/freedesktop/systemd1/notify/123"),
            Ok(Address::Abstract(
                b"/org/freedesktop/systemd1/notify/123".to_vec()
            ))
        );
        assert_eq!(Address::parse(""), Err(NotifyError::Empty));
        assert_eq!(
            Address::parse("@"),
            Err(NotifyError::NotAnAddress("@".into()))
        );
        assert_eq!(
            Address::parse("run/notify"),
            Err(NotifyError::NotAnAddress("run/notify".into()))
        );
        let long = format!("/{}", "a".repeat(MAX_ADDRESS));
        assert_eq!(
            Address::parse(&long),
            Err(NotifyError::TooLong(MAX_ADDRESS + 1))
        );
    }

    #[test]
    fn watchdog_periods() {
        assert_eq!(watchdog_period(None, None, 7), Ok(None));
        assert_eq!(
            watchdog_period(Some("10000000"), None, 7),
            Ok(Some(Duration::from_secs(10)))
        );
        assert_eq!(
            watchdog_period(Some("10000000"), Some("7"), 7),
            Ok(Some(Duration::from_secs(10)))
        );
        // Another process is watched.
        assert_eq!(watchdog_period(Some("10000000"), Some("8"), 7), Ok(None));
        assert_eq!(
            watchdog_period(Some("ten"), None, 7),
            Err(NotifyError::BadWatchdog("ten".into()))
        );
        assert_eq!(
            watchdog_period(Some("1000"), None, 7),
            Err(NotifyError::WatchdogTooShort(1000))
        );
    }

    #[test]
    fn status_is_one_bounded_line() {
        assert_eq!(
            status_message("active: web Active"),
            "STATUS=active: web Active"
        );
        assert_eq!(status_message("a\nb\u{1b}c"), "STATUS=a b c");
        assert_eq!(
            status_message(&"é".repeat(150)).len(),
            "STATUS=".len() + 200
        );
    }

    #[test]
    fn sends_to_a_path_and_an_abstract_name() {
        let dir = std::env::temp_dir().join(format!("tandem-sdn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::open(&Address::Path(path.clone()), None).unwrap();
        n.send("READY=1").unwrap();
        let mut buf = [0u8; 64];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");

        let name = format!("tandem-sdn-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        let n = Notifier::open(&Address::parse(&format!("@{name}")).unwrap(), None).unwrap();
        n.send("WATCHDOG=1").unwrap();
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
        std::fs::remove_dir_all(&dir).unwrap();
        // Nobody listening: an error the caller counts, not a block.
        drop(rx);
        assert!(n.send("READY=1").is_err());
    }
}
