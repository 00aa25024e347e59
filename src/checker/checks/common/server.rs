//! What every server's contract says of its stdout and its address: only the `listening on`
//! line on stdout, and IPv6 loopback with `--host ::1`.

use crate::checker::evidence::{Failure, Outcome, ensure};
use crate::checker::harness::{Server, Target};

/// Start `server --port 0 EXTRA…` with its narration on, let `exercise` talk to it, stop it, and
/// fail unless its stdout held nothing but the `listening on` line (the contract: narration, like
/// the course's `Connected by …`, belongs on stderr).
pub fn stdout_only_listening_on(
    target: &Target,
    extra: &[&str],
    exercise: impl Fn(&Server) -> Outcome,
) -> Outcome {
    let mut args = vec!["server", "--port", "0"];
    args.extend_from_slice(extra);
    let mut server = Server::start(target, &args)?;
    exercise(&server)?;
    server.process.kill();
    let extra = server.stdout_after_listening();
    ensure(extra.is_empty(), || {
        server
            .failure("the server wrote more than the `listening on` line on stdout")
            .expected("nothing after `listening on ADDR` (narration goes to stderr)")
            .received(extra.clone())
    })
}

/// Start `server --port 0 -q --host ::1 EXTRA…` and fail unless it listens on IPv6 loopback.
pub fn ipv6_server(target: &Target, extra: &[&str]) -> Result<Server, Failure> {
    let mut args = vec!["--host", "::1"];
    args.extend_from_slice(extra);
    let server = Server::start_quiet(target, &args)?;
    ensure(
        server.addr.is_ipv6() && server.addr.ip().is_loopback(),
        || {
            server
                .failure(format!(
                    "listening on {}, not on IPv6 loopback",
                    server.addr
                ))
                .expected("listening on [::1]:PORT")
        },
    )?;
    Ok(server)
}
