//! The command-line shape every lesson shares, and turning `--host`/`--port` into addresses.
//!
//! Every lesson binary has the same three modes (the full contract: `lessons/grading.md`, "The
//! contracts"): no subcommand runs `demo`; `server [--host HOST] [--port PORT] [-q]` prints
//! exactly one line `listening on ADDR` on stdout; `client [--host HOST] [--port PORT] [-q] …`
//! prints only what it received. The flags are defined once here and flattened into each
//! lesson's own clap parser — `--exit-after K` ([`ExitAfter`]) too — and the top of each parser,
//! the same in every lesson, is [`lesson_mode`].

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{Context, Result};

/// The top of every lesson's command line: its subcommands `M` (the lesson's own
/// `#[derive(Subcommand)] enum Mode`), or none, which runs the demo.
#[derive(clap::Parser)]
struct Lesson<M: clap::Subcommand> {
    #[command(subcommand)]
    mode: Option<M>,
}

/// Parse lesson `name`'s command line into its mode: `None` when no subcommand was given (the
/// demo). `--help` shows `about` and where the lesson's page is, the same in every lesson. Bad
/// flags end the process with clap's message and usage, as `Parser::parse` does.
pub fn lesson_mode<M: clap::Subcommand>(name: &'static str, about: &'static str) -> Option<M> {
    use clap::{CommandFactory, FromArgMatches};
    let mut command = Lesson::<M>::command()
        .name(name)
        .about(about)
        .after_help(format!(
            "With no subcommand, runs the demo. Page: lessons/{name}.md"
        ));
    let mut matches = command.clone().get_matches();
    match Lesson::<M>::from_arg_matches_mut(&mut matches) {
        Ok(lesson) => lesson.mode,
        Err(e) => e.format(&mut command).exit(),
    }
}

/// Servers bind the loopback address unless told otherwise: safe by default, reachable only from
/// this machine. `--host 0.0.0.0` (or `::`) opens the server to the network, with a warning.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// `--host`, `--port` and `-q`, shared by every `server` and `client` subcommand.
///
/// `PORT` is the lesson's default port (its row in the registry, `lessons::port_of`), so `--help`
/// shows the real default.
#[derive(clap::Args, Debug, Clone)]
pub struct Endpoint<const PORT: u16> {
    /// Address to bind (server) or connect to (client): IPv4 (127.0.0.1), IPv6 (::1) or a name
    /// (localhost).
    #[arg(long, default_value = DEFAULT_HOST, value_name = "HOST")]
    pub host: String,

    /// Port number, 0–65535. For a server, 0 lets the operating system choose a free port.
    // `allow_hyphen_values`: `--port -1` reaches `port_number`, which says what a port is,
    // instead of clap's "unexpected argument '-1'".
    #[arg(long, short = 'p', default_value_t = PORT, value_name = "PORT",
          value_parser = port_number, allow_hyphen_values = true)]
    pub port: u16,

    /// Silence the narration on stderr (results and errors are still printed).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `--exit-after K`, the test hook of every server that accepts connections, with one meaning
/// everywhere: serve K connections, then stop — the K-th is served like any other, no connection
/// after it is accepted, and the server exits once the K are done (`kit::shutdown::Stop::after`).
/// `MIN` is the smallest K a lesson takes: 0 (stop at once) in lesson 08, 1 in the chat rooms.
#[derive(clap::Args, Debug, Clone)]
pub struct ExitAfter<const MIN: u64> {
    /// Stop accepting after this many connections, finish them, exit (default: forever).
    // `allow_hyphen_values`: `--exit-after -3` reaches `whole_number`, which says the range.
    #[arg(long, value_name = "K", value_parser = whole_number::<u64>(MIN, u64::MAX),
          allow_hyphen_values = true)]
    pub exit_after: Option<u64>,
}

/// `--port`: a whole number from 0 to 65535, said in words when it is not (`--port -1`,
/// `--port 70000`, `--port http`). Clap prints it after `invalid value '-1' for '--port <PORT>'`
/// and exits 2.
pub fn port_number(text: &str) -> Result<u16, String> {
    text.trim()
        .parse::<u16>()
        .map_err(|_| "a port must be a whole number from 0 to 65535".to_string())
}

/// A parser for a whole-number flag in `min..=max`, for clap's `value_parser`, whose error says
/// the range in words: `--workers 0` → "must be a whole number from 1 to 1024"; with `max` the
/// type's largest value, "must be a whole number, at least 1" (not clap's
/// `0 is not in 1..18446744073709551615`).
pub fn whole_number<T>(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: TryFrom<u64> + Into<u64> + Bounded,
{
    move |text: &str| {
        let max = max.min(T::MAX_U64);
        let words = if max == T::MAX_U64 {
            format!("must be a whole number, at least {min}")
        } else {
            format!("must be a whole number from {min} to {max}")
        };
        text.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .and_then(|n| T::try_from(n).ok())
            .ok_or(words)
    }
}

/// The largest value of an unsigned integer type, as a `u64`, for [`whole_number`].
pub trait Bounded {
    /// `T::MAX`.
    const MAX_U64: u64;
}

impl Bounded for u16 {
    const MAX_U64: u64 = u16::MAX as u64;
}

impl Bounded for u32 {
    const MAX_U64: u64 = u32::MAX as u64;
}

impl Bounded for u64 {
    const MAX_U64: u64 = u64::MAX;
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

// ANCHOR: resolve
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
// ANCHOR_END: resolve

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
    fn numbers_say_their_range_in_words() {
        assert_eq!(port_number("0"), Ok(0));
        for bad in ["-1", "70000", "http", ""] {
            assert_eq!(
                port_number(bad),
                Err("a port must be a whole number from 0 to 65535".to_string())
            );
        }
        let workers = whole_number::<u16>(1, 1024);
        assert_eq!(workers("4"), Ok(4));
        assert_eq!(
            workers("0"),
            Err("must be a whole number from 1 to 1024".to_string())
        );
        let count = whole_number::<u64>(1, u64::MAX);
        assert_eq!(
            count("0"),
            Err("must be a whole number, at least 1".to_string())
        );
        assert_eq!(count("-5"), count("0"));
    }

    #[test]
    fn only_unspecified_addresses_warn() {
        assert!(unspecified_warning("0.0.0.0:1".parse().unwrap()).is_some());
        assert!(unspecified_warning("[::]:1".parse().unwrap()).is_some());
        assert!(unspecified_warning("127.0.0.1:1".parse().unwrap()).is_none());
    }
}
