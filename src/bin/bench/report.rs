//! What a run measured: counts, throughput and latency percentiles, as text or JSON.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// One thread's measurements; threads merge theirs at the end, so nothing is shared while the
/// clock runs.
pub struct Recorder {
    /// Latency in microseconds, 1 µs to 100 s at 3 significant digits (a few tens of KiB).
    pub latency: Histogram<u64>,
    pub ok: u64,
    pub bytes: u64,
    pub errors: u64,
    pub mismatches: u64,
    /// The first error, to show what went wrong.
    pub first_error: Option<String>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            latency: Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid bounds"),
            ok: 0,
            bytes: 0,
            errors: 0,
            mismatches: 0,
            first_error: None,
        }
    }

    pub fn record(&mut self, took: Duration, bytes: u64) {
        let micros = (took.as_micros() as u64).clamp(1, 100_000_000);
        // Within the bounds above, recording cannot fail.
        let _ = self.latency.record(micros);
        self.ok += 1;
        self.bytes += bytes;
    }

    pub fn error(&mut self, what: impl Into<String>) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| what.into());
    }

    pub fn merge(&mut self, other: Recorder) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency.add(&other.latency);
        self.ok += other.ok;
        self.bytes += other.bytes;
        self.errors += other.errors;
        self.mismatches += other.mismatches;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// The report of a run that took `elapsed`.
    pub fn report(self, mode: &str, target: String, elapsed: Duration) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let h = &self.latency;
        let empty = h.is_empty();
        let at = |q: f64| {
            if empty {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        Report {
            mode: mode.to_string(),
            target,
            clients: 0,
            size: 0,
            seconds: secs,
            ok: self.ok,
            per_second: self.ok as f64 / secs,
            mb_per_second: self.bytes as f64 / secs / 1e6,
            latency_ms: Latency {
                p50: at(0.5),
                p99: at(0.99),
                max: if empty { 0.0 } else { h.max() as f64 / 1000.0 },
            },
            errors: self.errors,
            mismatches: self.mismatches,
            first_error: self.first_error,
            extra: Vec::new(),
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Serialize, Clone, Copy, Default)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// One run's result.
#[derive(Serialize, Clone, Default)]
pub struct Report {
    pub mode: String,
    pub target: String,
    pub clients: usize,
    /// Bytes per message (echo, udp); 0 where it does not apply.
    pub size: usize,
    pub seconds: f64,
    /// Completed round trips (echo, udp), connections (connect), deliveries (chat).
    pub ok: u64,
    pub per_second: f64,
    /// Payload megabytes per second, one direction (10^6 bytes).
    pub mb_per_second: f64,
    pub latency_ms: Latency,
    pub errors: u64,
    /// Echoed bytes that differ from what was sent.
    pub mismatches: u64,
    pub first_error: Option<String>,
    /// Mode-specific figures (`lost`, `complete readers`, …), in order.
    pub extra: Vec<(String, String)>,
}

impl Report {
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} {}", self.mode, self.target);
        let _ = writeln!(out, "  clients       {}", self.clients);
        if self.size > 0 {
            let _ = writeln!(out, "  size          {} bytes", self.size);
        }
        let _ = writeln!(out, "  measured      {:.2} s", self.seconds);
        let _ = writeln!(out, "  completed     {}", self.ok);
        let _ = writeln!(
            out,
            "  throughput    {:.0}/s, {:.2} MB/s",
            self.per_second, self.mb_per_second
        );
        let l = self.latency_ms;
        let _ = writeln!(
            out,
            "  latency       p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            l.p50, l.p99, l.max
        );
        let _ = writeln!(out, "  errors        {}", self.errors);
        let _ = writeln!(out, "  mismatches    {}", self.mismatches);
        for (name, value) in &self.extra {
            let _ = writeln!(out, "  {name:<13} {value}");
        }
        if let Some(e) = &self.first_error {
            let _ = writeln!(out, "  first error   {e}");
        }
        out
    }
}

/// A progress bar on stderr that draws only on a terminal (indicatif hides it elsewhere).
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({elapsed})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}
