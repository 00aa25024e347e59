//! The command line every lesson shares: the demo runs, usage errors exit 2, and the runtime
//! errors a beginner meets (port in use, connection refused, unknown host, privileged port) each
//! give an `error: …` line and exit status 1 — never a hang, a panic or a traceback.

use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use crate::checker::evidence::{Failure, Outcome, ensure};
use crate::checker::harness::{Finished, RUN_TIMEOUT, Target, refusing_port, run};

/// How long a program may take to notice a bad start and exit.
const ERROR_TIMEOUT: Duration = Duration::from_secs(10);

/// A host name that can never resolve: `.invalid` is reserved for exactly this (RFC 2606).
pub const UNKNOWN_HOST: &str = "no-such-host.invalid";

/// The program with no arguments runs its demo and exits 0.
pub fn demo_exits_zero(target: &Target) -> Outcome {
    run(target, &[], b"", RUN_TIMEOUT)?.expect_code(0)?;
    Ok(())
}

/// Unknown flags and out-of-range ports are usage errors: exit status 2, as clap does.
pub fn usage_errors_exit_2(target: &Target) -> Outcome {
    for args in [
        &["server", "--port", "70000"][..],
        &["server", "--no-such-flag"],
        &["no-such-mode"],
    ] {
        run(target, args, b"", ERROR_TIMEOUT)?.expect_code(2)?;
    }
    Ok(())
}

/// Fail unless `finished` is a clean runtime error: exit status 1, a line on stderr that starts
/// with `error:`, that line or the next mentioning each of `words` (any case), and no panic or
/// traceback.
pub fn expect_error(finished: &Finished, words: &[&str]) -> Outcome {
    let expected =
        || format!("exit status 1 and an `error: …` line on stderr mentioning {words:?}");
    finished
        .expect_code(1)
        .map_err(|f| f.expected(expected()))?;
    let stderr = finished.stderr_text();
    let lower = stderr.to_lowercase();
    ensure(
        !lower.contains("panicked at") && !lower.contains("traceback (most recent call last)"),
        || {
            finished
                .failure(
                    "the program crashed (a panic or a traceback) instead of reporting the error",
                )
                .expected(expected())
        },
    )?;
    let error_at = stderr.lines().position(|l| l.starts_with("error:"));
    let Some(at) = error_at else {
        return Err(finished
            .failure("no line on stderr starts with `error:`")
            .expected(expected()));
    };
    // The error line and the hint line after it together must name the problem.
    let message: String = stderr
        .lines()
        .skip(at)
        .take(2)
        .collect::<Vec<_>>()
        .join("\n")
        .to_lowercase();
    for word in words {
        ensure(message.contains(&word.to_lowercase()), || {
            finished
                .failure(format!("the error does not mention `{word}`"))
                .expected(expected())
        })?;
    }
    Ok(())
}

/// `server --port P` where a TCP listener already holds P: `error: … address already in use`.
pub fn tcp_server_port_in_use(target: &Target) -> Outcome {
    let holder =
        TcpListener::bind("127.0.0.1:0").map_err(Failure::io("binding a port to occupy"))?;
    let port = holder
        .local_addr()
        .map_err(Failure::io("getsockname"))?
        .port()
        .to_string();
    let finished = run(target, &["server", "--port", &port], b"", ERROR_TIMEOUT)?;
    expect_error(&finished, &["in use"])
}

/// `server --port P` where a UDP socket already holds P: `error: … address already in use`.
pub fn udp_server_port_in_use(target: &Target) -> Outcome {
    let holder = UdpSocket::bind("127.0.0.1:0").map_err(Failure::io("binding a port to occupy"))?;
    let port = holder
        .local_addr()
        .map_err(Failure::io("getsockname"))?
        .port()
        .to_string();
    let finished = run(target, &["server", "--port", &port], b"", ERROR_TIMEOUT)?;
    expect_error(&finished, &["in use"])
}

/// `client --port P` where nothing listens: `error: … connection refused`, with a hint.
pub fn tcp_client_refused(target: &Target) -> Outcome {
    let refusing = refusing_port()?;
    let port = refusing.port().to_string();
    let finished = run(target, &["client", "--port", &port], b"", ERROR_TIMEOUT)?;
    expect_error(&finished, &["refused"])
}

/// `MODE --host no-such-host.invalid`: `error: …` naming the host, exit 1.
pub fn unknown_host(target: &Target, mode: &str, extra: &[&str]) -> Outcome {
    let mut args = vec![mode, "--host", UNKNOWN_HOST, "--port", "9"];
    args.extend_from_slice(extra);
    let finished = run(target, &args, b"", ERROR_TIMEOUT)?;
    expect_error(&finished, &[UNKNOWN_HOST])
}

/// `server --port 1` without the privilege to bind ports below 1024: `error: … permission
/// denied`. As root we drop only that privilege (CAP_NET_BIND_SERVICE) with util-linux's
/// `setpriv`, so the program still runs as the same user with the same files.
pub fn privileged_port(target: &Target) -> Outcome {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    let target = if root {
        let wrapper = ["setpriv", "--bounding-set", "-net_bind_service", "--"];
        Target::new(
            wrapper
                .iter()
                .map(|s| s.to_string())
                .chain(target.argv().iter().cloned()),
        )
    } else {
        let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .unwrap_or_default();
        if start.trim().parse::<u32>().is_ok_and(|p| p <= 1) {
            return Err(Failure::new(
                "this machine lets every user bind port 1, so the check cannot run here",
            ));
        }
        target.clone()
    };
    let finished = run(&target, &["server", "--port", "1"], b"", ERROR_TIMEOUT)?;
    if root && finished.code() == Some(127) {
        return Err(finished.failure("could not run the program under `setpriv` (util-linux)"));
    }
    expect_error(&finished, &["permission denied"])
}
