//! `bench udp`: datagram round trips, one in flight, and how many were lost.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::report::{Recorder, Report, progress};

pub fn run(addr: SocketAddr, size: usize, duration: Duration, wait: Duration) -> Result<Report> {
    let local: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let socket = UdpSocket::bind(local).context("failed to bind a UDP socket")?;
    // connect() on UDP: send() goes to the server, and datagrams from anyone else are dropped.
    socket
        .connect(addr)
        .with_context(|| format!("failed to connect to {addr}"))?;
    let bar = progress(duration.as_millis() as u64, "udp");
    let mut rec = Recorder::new();
    let mut lost = 0u64;
    let mut datagram = vec![0u8; size];
    let mut reply = vec![0u8; size + 1];
    let began = Instant::now();
    let mut seq = 0u64;
    while began.elapsed() < duration {
        seq += 1;
        datagram[..8].copy_from_slice(&seq.to_be_bytes());
        let sent_at = Instant::now();
        if let Err(e) = socket.send(&datagram) {
            rec.error(format!("send: {e}"));
            if rec.errors > 100 {
                break;
            }
            continue;
        }
        // Wait for *this* datagram's echo; a late echo of an earlier one is skipped.
        let until = sent_at + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                lost += 1;
                break;
            }
            socket.set_read_timeout(Some(left))?;
            match socket.recv(&mut reply) {
                Ok(n) if n >= 8 && reply[..8] == seq.to_be_bytes() => {
                    if reply[..n] != datagram[..] {
                        rec.mismatches += 1;
                    }
                    rec.record(sent_at.elapsed(), size as u64);
                    break;
                }
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    lost += 1;
                    break;
                }
                // ICMP port unreachable from an earlier datagram: nobody is listening.
                Err(e) => {
                    rec.error(format!("recv: {e}"));
                    break;
                }
            }
        }
        bar.set_position(began.elapsed().as_millis() as u64);
        if rec.errors > 100 {
            break;
        }
    }
    bar.finish_and_clear();
    let mut report = rec.report("udp", addr.to_string(), began.elapsed());
    report.clients = 1;
    report.size = size;
    let lost_pct = if seq == 0 {
        0.0
    } else {
        lost as f64 * 100.0 / seq as f64
    };
    report.extra.push(("sent".into(), seq.to_string()));
    report
        .extra
        .push(("lost".into(), format!("{lost} ({lost_pct:.2}%)")));
    Ok(report)
}
