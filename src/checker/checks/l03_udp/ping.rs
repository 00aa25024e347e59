//! Lesson 03's ping checks: numbered probes, a line per probe, the summary and the rtt line.

use super::client::{Answer, UdpStub, echo};
use super::*;

// --- Ping ------------------------------------------------------------------------------------

/// What one probe's line said.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Probe {
    Reply,
    Timeout,
}

/// ping's stdout, read.
#[derive(Debug, Default)]
struct PingReport {
    /// Each line's sequence number and verdict, in order.
    probes: Vec<(u64, Probe)>,
    /// `N transmitted, M received, X% loss`
    summary: Option<(u64, u64, f64)>,
    /// `rtt min/avg/max = A/B/C ms`
    rtt: Option<(f64, f64, f64)>,
}

/// Read ping's stdout line by line; any line that is not part of the contract is an error.
fn parse_ping(stdout: &str) -> Result<PingReport, String> {
    let mut report = PingReport::default();
    for line in stdout.lines() {
        if line.contains(" transmitted") {
            let summary = parse_summary(line)
                .ok_or_else(|| format!("not `N transmitted, M received, X% loss`: {line:?}"))?;
            if report.summary.replace(summary).is_some() {
                return Err("two summary lines".to_string());
            }
        } else if let Some(rest) = line.strip_prefix("rtt min/avg/max = ") {
            let numbers: Vec<f64> = rest
                .strip_suffix(" ms")
                .unwrap_or("")
                .split('/')
                .filter_map(|n| n.trim().parse().ok())
                .collect();
            let [min, avg, max] = numbers[..] else {
                return Err(format!("not `rtt min/avg/max = A/B/C ms`: {line:?}"));
            };
            report.rtt = Some((min, avg, max));
        } else {
            let seq = line
                .split_whitespace()
                .find_map(|word| word.strip_prefix("seq="))
                .and_then(|n| n.trim_end_matches([':', ',']).parse::<u64>().ok())
                .ok_or_else(|| format!("a line that is not part of ping's output: {line:?}"))?;
            let verdict = if line.contains("timeout") {
                Probe::Timeout
            } else if line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("time="))
                .and_then(|t| t.trim_end_matches("ms").parse::<f64>().ok())
                .is_some_and(|t| t >= 0.0)
            {
                Probe::Reply
            } else {
                return Err(format!(
                    "a probe line with neither `time=T` nor `timeout`: {line:?}"
                ));
            };
            report.probes.push((seq, verdict));
        }
    }
    Ok(report)
}

/// `10 transmitted, 5 received, 50% loss` → (10, 5, 50.0).
fn parse_summary(line: &str) -> Option<(u64, u64, f64)> {
    let mut parts = line.split(',').map(str::trim);
    let sent = parts.next()?.strip_suffix(" transmitted")?.parse().ok()?;
    let received = parts.next()?.strip_suffix(" received")?.parse().ok()?;
    let loss = parts.next()?.strip_suffix("% loss")?.parse().ok()?;
    parts.next().is_none().then_some((sent, received, loss))
}

/// Run ping and check its output: one line per probe with the verdicts in `want` (`None`: any
/// verdict), a summary consistent with them, and an rtt line when there were replies. Returns
/// the summary's received count.
fn check_ping(
    target: &Target,
    port: &str,
    count: u64,
    timeout_ms: &str,
    want: &dyn Fn(u64) -> Option<Probe>,
    expected: &str,
) -> Result<(Finished, u64), Failure> {
    let count_text = count.to_string();
    let args = [
        "ping",
        "--port",
        port,
        "-q",
        "--count",
        &count_text,
        "--interval-ms",
        "0",
        "--timeout-ms",
        timeout_ms,
    ];
    let finished = run(target, &args, b"", RUN_TIMEOUT)?;
    finished.expect_code(0)?;
    let fail = |why: String| Err(finished.failure(why).expected(expected));
    let report = match parse_ping(&finished.stdout_text()) {
        Ok(report) => report,
        Err(why) => return fail(why),
    };
    let seqs: Vec<u64> = report.probes.iter().map(|(seq, _)| *seq).collect();
    if seqs != (1..=count).collect::<Vec<_>>() {
        return fail(format!(
            "the probe lines are for seq {seqs:?}, not one line for each of 1 to {count}"
        ));
    }
    for &(seq, verdict) in &report.probes {
        if want(seq).is_some_and(|w| w != verdict) {
            return fail(format!("probe seq={seq} is reported as {verdict:?}"));
        }
    }
    let replies = report
        .probes
        .iter()
        .filter(|(_, v)| *v == Probe::Reply)
        .count() as u64;
    let Some((sent, received, loss)) = report.summary else {
        return fail("no summary line `N transmitted, M received, X% loss`".to_string());
    };
    let exact = 100.0 * (sent.saturating_sub(received)) as f64 / sent.max(1) as f64;
    if sent != count || received != replies || (loss - exact).abs() >= 1.0 {
        return fail(format!(
            "the summary says {sent} transmitted, {received} received, {loss}% loss, but there \
             were {count} probes and {replies} reply lines"
        ));
    }
    match report.rtt {
        Some((min, avg, max)) if replies > 0 && min <= avg && avg <= max && min >= 0.0 => {}
        None if replies == 0 => {}
        _ => {
            return fail(
                "the line `rtt min/avg/max = A/B/C ms` is missing or wrong (it must have min ≤ avg ≤ max)"
                    .to_string(),
            );
        }
    }
    Ok((finished, received))
}

/// Three probes to the real server: three replies.
pub fn ping_reports_rtt(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let port = server.addr.port().to_string();
    check_ping(
        target,
        &port,
        3,
        "2000",
        &|_| Some(Probe::Reply),
        "3 reply lines (seq=1..3 with time=T ms), `3 transmitted, 3 received, 0% loss`, an rtt line",
    )
    .map_err(|f| f.stderr(server.stderr()))?;
    Ok(())
}

/// The stub answers probes 2, 4, 6, 8, 10 only.
pub fn ping_counts_loss(target: &Target) -> Outcome {
    let stub = UdpStub::start(|n, data| if n % 2 == 0 { echo(data) } else { Vec::new() })?;
    let (finished, received) = check_ping(
        target,
        &stub.port(),
        10,
        SAFE_TIMEOUT_MS,
        &|seq| {
            Some(if seq % 2 == 0 {
                Probe::Reply
            } else {
                Probe::Timeout
            })
        },
        "odd probes `seq=N timeout`, even ones replies, then `10 transmitted, 5 received, 50% loss`",
    )?;
    ensure(received == 5, || {
        finished.failure(format!("{received} received instead of 5"))
    })
}

/// The stub holds the echo of probe 1 and sends it just before the echo of probe 2, and never
/// answers probe 3: only probe 2 is a reply.
pub fn ping_ignores_late_replies(target: &Target) -> Outcome {
    let mut held = Vec::new();
    let stub = UdpStub::start(move |n, data| match n {
        1 => {
            held = data.to_vec();
            Vec::new()
        }
        2 => vec![Answer::Back(held.clone()), Answer::Back(data.to_vec())],
        _ => Vec::new(),
    })?;
    let (finished, received) = check_ping(
        target,
        &stub.port(),
        3,
        SAFE_TIMEOUT_MS,
        &|seq| {
            Some(if seq == 2 {
                Probe::Reply
            } else {
                Probe::Timeout
            })
        },
        "`seq=1 timeout`, a reply for seq=2, `seq=3 timeout` (the late echo of probe 1 is not probe \
         3's), then `3 transmitted, 1 received, 66.7% loss`",
    )?;
    ensure(received == 1, || {
        finished.failure(format!("{received} received instead of 1"))
    })
}

/// 20 probes through a server that drops half: loss strictly between 0% and 100%.
pub fn ping_shows_drop(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &["--drop", "0.5", "--seed", "1"])?;
    let port = server.addr.port().to_string();
    let (finished, received) = check_ping(
        target,
        &port,
        20,
        SHORT_TIMEOUT_MS,
        &|_| None,
        "20 probe lines, some replies and some timeouts, and the summary",
    )
    .map_err(|f| f.stderr(server.stderr()))?;
    ensure(0 < received && received < 20, || {
        finished
            .failure(format!(
                "{received} of 20 probes answered through a server that drops half"
            ))
            .expected("some loss but not all: between 1 and 19 received")
            .stderr(server.stderr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_output_is_parsed_strictly() {
        let out = "reply from 127.0.0.1:7003: seq=1 time=0.142 ms\nseq=2 timeout\n\
                   2 transmitted, 1 received, 50% loss\nrtt min/avg/max = 0.142/0.142/0.142 ms\n";
        let report = parse_ping(out).unwrap();
        assert_eq!(report.probes, [(1, Probe::Reply), (2, Probe::Timeout)]);
        assert_eq!(report.summary, Some((2, 1, 50.0)));
        assert!(report.rtt.is_some());
        assert_eq!(
            parse_summary("3 transmitted, 1 received, 66.7% loss"),
            Some((3, 1, 66.7))
        );
        assert!(parse_ping("PING 127.0.0.1\n").is_err());
        assert!(parse_ping("seq=1 lost\n").is_err());
    }
}
