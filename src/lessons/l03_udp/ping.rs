//! `ping`: numbered probes, one at a time, each round-trip time, and the loss. It waits for each
//! probe with the client's recvfrom() loop (`recv_until` in `client.rs`).

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::client::{Heard, recv_until, same_endpoint, send};
use crate::kit::narrate::Narrator;

// ANCHOR: probe
/// What `ping` sends: how many probes, how far apart, and how long each may take.
#[derive(Clone, Copy)]
pub struct Probes {
    pub count: u64,
    pub interval: Duration,
    pub timeout: Duration,
}

/// The payload of probe `seq`. It carries its sequence number so that an echo arriving after
/// its probe was given up can be recognised as late, not mistaken for the current probe's.
fn probe(seq: u64) -> Vec<u8> {
    format!("ping seq={seq}").into_bytes()
}

/// The sequence number an echoed probe carries, if it is one of ours.
fn probe_seq(data: &[u8]) -> Option<u64> {
    std::str::from_utf8(data)
        .ok()?
        .strip_prefix("ping seq=")?
        .parse()
        .ok()
}
// ANCHOR_END: probe

// ANCHOR: ping
/// Send `count` numbered probes, one at a time; print a line per probe and a summary.
pub fn ping(
    socket: &UdpSocket,
    server: SocketAddr,
    probes: Probes,
    say: &Narrator,
    out: &mut impl Write,
) -> Result<()> {
    let mut rtts = Vec::new();
    for seq in 1..=probes.count {
        if seq > 1 {
            // Pacing, as ping does: this pause spaces the probes out; nothing waits on it.
            std::thread::sleep(probes.interval);
        }
        let payload = probe(seq);
        let sent_at = Instant::now();
        send(
            socket,
            server,
            &payload,
            &format!("probe {seq} of {}", probes.count),
            say,
        )?;
        match wait_for_probe(socket, server, seq, sent_at, probes.timeout, say)? {
            Some(rtt) => {
                rtts.push(rtt);
                writeln!(
                    out,
                    "reply from {server}: seq={seq} time={:.3} ms",
                    millis(rtt)
                )?;
            }
            None => writeln!(out, "seq={seq} timeout")?,
        }
        out.flush().context("failed to write to stdout")?;
    }

    // The summary: loss is the probes that got no echo in time, whatever became of them.
    let received = rtts.len() as u64;
    let loss = 100.0 * (probes.count - received) as f64 / probes.count as f64;
    writeln!(
        out,
        "{} transmitted, {received} received, {}% loss",
        probes.count,
        percent(loss)
    )?;
    if let (Some(min), Some(max)) = (rtts.iter().min(), rtts.iter().max()) {
        let avg = rtts.iter().sum::<Duration>() / rtts.len() as u32;
        writeln!(
            out,
            "rtt min/avg/max = {:.3}/{:.3}/{:.3} ms",
            millis(*min),
            millis(avg),
            millis(*max)
        )?;
    }
    out.flush().context("failed to write to stdout")
}
// ANCHOR_END: ping

// ANCHOR: wait_for_probe
/// recvfrom() until probe `seq` comes back (its round-trip time) or `timeout` has passed.
fn wait_for_probe(
    socket: &UdpSocket,
    server: SocketAddr,
    seq: u64,
    sent_at: Instant,
    timeout: Duration,
    say: &Narrator,
) -> Result<Option<Duration>> {
    let timed_out = format!("timed out: seq={seq} counts as lost");
    recv_until(socket, sent_at + timeout, &timed_out, say, |data, from| {
        let rtt = sent_at.elapsed();
        let n = data.len();
        match probe_seq(data) {
            Some(got) if got == seq && same_endpoint(from, server) => Heard::Reply(
                rtt,
                format!(
                    "{n} bytes from {from}: seq={seq} after {:.3} ms",
                    millis(rtt)
                ),
            ),
            Some(got) if got < seq && same_endpoint(from, server) => Heard::Ignored(format!(
                "seq={got} arrives late (already counted as lost): ignored"
            )),
            _ => Heard::Ignored(format!(
                "{n} bytes from {from}, not an echo of seq={seq}: ignored"
            )),
        }
    })
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// 50 → `50`, 33.333… → `33.3`.
pub fn percent(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").unwrap_or(&text).to_string()
}
// ANCHOR_END: wait_for_probe

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_carry_their_sequence_number() {
        assert_eq!(probe_seq(&probe(42)), Some(42));
        assert_eq!(probe_seq(b"hello"), None);
    }

    #[test]
    fn percentages_drop_a_useless_decimal() {
        assert_eq!(percent(50.0), "50");
        assert_eq!(percent(100.0 / 3.0), "33.3");
        assert_eq!(percent(0.0), "0");
    }
}
