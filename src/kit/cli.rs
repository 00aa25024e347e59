//! The command-line shape every lesson shares, and turning `--host`/`--port` into addresses.
//!
//! Every lesson binary has the same three modes (see `lessons/README.md` for the full contract):
//! no subcommand runs `demo`; `server [--host HOST] [--port PORT] [-q]` prints exactly one line
//! `listening on ADDR` on stdout; `client [--host HOST] [--port PORT] [-q] …` prints only what it
//! received. The flags are defined once here and flattened into each lesson's own clap parser.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{Context, Result};

/// Servers bind the loopback address unless told otherwise: safe by default, reachable only from
/// this machine. `--host 0.0.0.0` (or `::`) opens the server to the network, with a warning.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// Each lesson's default port: distinct, so two lessons can run side by side, and below Linux's
/// ephemeral range (32768–60999) so they never collide with the ports clients are given.
pub mod ports {
    /// `01_time_server`
    pub const TIME_SERVER: u16 = 7001;
    /// `02_echo`
    pub const ECHO: u16 = 7002;
    /// `03_udp`
    pub const UDP: u16 = 7003;
    /// `04_threaded`
    pub const THREADED: u16 = 7004;
    /// `05_thread_pool`
    pub const THREAD_POOL: u16 = 7005;
    /// `06_group_chat`
    pub const GROUP_CHAT: u16 = 7006;
    /// `07_event_loop`
    pub const EVENT_LOOP: u16 = 7007;
    /// `08_protocol`
    pub const PROTOCOL: u16 = 7008;
}

/// `--host`, `--port` and `-q`, shared by every `server` and `client` subcommand.
///
/// `PORT` is the lesson's default port (one of [`ports`]), so `--help` shows the real default.
#[derive(clap::Args, Debug, Clone)]
pub struct Endpoint<const PORT: u16> {
    /// Address to bind (server) or connect to (client): IPv4 (127.0.0.1), IPv6 (::1) or a name
    /// (localhost).
    #[arg(long, default_value = DEFAULT_HOST, value_name = "HOST")]
    pub host: String,

    /// Port number, 0–65535. For a server, 0 lets the operating system choose a free port.
    #[arg(long, short = 'p', default_value_t = PORT, value_name = "PORT")]
    pub port: u16,

    /// Silence the narration on stderr (results and errors are still printed).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// The host named on the command line could not be turned into an address.
#[derive(Debug)]
pub struct UnknownHost(pub String);

impl std::fmt::Display for UnknownHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not resolve host `{}`", self.0)
    }
}

impl std::error::Error for UnknownHost {}

/// Resolve `host` and `port` to socket addresses, as `getaddrinfo` does: an IP literal is used
/// as is, a name is looked up (`/etc/hosts`, then DNS). A name may have several addresses (IPv4
/// and IPv6); a client tries them in order, a server binds the first.
///
/// `[::1]` is accepted as well as `::1`, since that is how an IPv6 address is written with a port.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let found: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .map_err(|e| anyhow::Error::new(e).context(UnknownHost(host.to_string())))?
        .collect();
    if found.is_empty() {
        return Err(UnknownHost(host.to_string()).into());
    }
    Ok(found)
}

/// The first address `host` resolves to: what a server binds.
pub fn resolve_one(host: &str, port: u16) -> Result<SocketAddr> {
    let addrs = resolve(host, port)?;
    addrs
        .into_iter()
        .next()
        .with_context(|| UnknownHost(host.to_string()))
}

/// The sentence a server says when it binds every interface, because that is a real decision:
/// the server is then reachable from other machines on the network.
pub fn unspecified_warning(addr: SocketAddr) -> Option<String> {
    addr.ip().is_unspecified().then(|| {
        format!(
            "{} means every interface: this server is reachable from other machines, not only \
             from this one. Use --host 127.0.0.1 to keep it private.",
            addr.ip()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_brackets_resolve_without_dns() {
        assert_eq!(
            resolve_one("127.0.0.1", 7).unwrap().to_string(),
            "127.0.0.1:7"
        );
        assert_eq!(resolve_one("::1", 7).unwrap().to_string(), "[::1]:7");
        assert_eq!(resolve_one("[::1]", 7).unwrap().to_string(), "[::1]:7");
    }

    #[test]
    fn an_unknown_host_names_itself() {
        let err = resolve("no-such-host.invalid", 7).unwrap_err();
        assert!(err.downcast_ref::<UnknownHost>().is_some(), "{err:#}");
        assert!(format!("{err:#}").contains("no-such-host.invalid"));
    }

    #[test]
    fn only_unspecified_addresses_warn() {
        assert!(unspecified_warning("0.0.0.0:1".parse().unwrap()).is_some());
        assert!(unspecified_warning("[::]:1".parse().unwrap()).is_some());
        assert!(unspecified_warning("127.0.0.1:1".parse().unwrap()).is_none());
    }
}
