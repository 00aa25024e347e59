//! Grading the jobs, and what comes of it: the scorecards and class tables for people, or JSON,
//! CSV or JUnit for machines, on stdout or in `--output FILE`.

use std::io::{IsTerminal, Write};

use super::signals::{stop_on_signals, wait_if_stopping};
use super::{Cli, Format, Stop, kept};
use crate::checker::grade::{self, Graded, Job, Report, Scorecard};
use crate::checker::harness::reaper;

/// Grade every job, `at_once` checks at a time, within `time_limit` if any, leaving nothing
/// behind: on a signal or at the time limit, every program is killed; at the end, whatever
/// escaped a process group is. Each scorecard is kept as it finishes ([`kept`]).
pub fn grade_all(
    jobs: &[Job],
    at_once: u16,
    time_limit: Option<std::time::Duration>,
    keep: kept::Keep,
) -> Graded {
    stop_on_signals();
    kept::start(jobs, keep);
    reaper::adopt_orphans();
    // On a terminal, a progress bar (indicatif) over the programs graded, with each finished
    // one printed above it; elsewhere (a pipe, CI) the same lines on stderr, without the bar.
    let progress = (std::io::stderr().is_terminal() && jobs.len() > 1).then(|| {
        let checks: usize = jobs.iter().map(|j| j.checks.len()).sum();
        let bar = indicatif::ProgressBar::new(jobs.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} grading [{bar:30}] {pos}/{len} programs, {msg} {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(format!("{checks} checks, {at_once} at a time"));
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    });
    let on_done = |j: usize, card: &Scorecard| {
        // Kept (and written to --output) before it is announced: whoever sees the line finds
        // the result in the file.
        if !kept::finished(j, card) || jobs.len() < 2 {
            return;
        }
        // The name is the report's, already escaped (grade::escape).
        let line = format!(
            "  {} {}: {}/{} points",
            if card.all_passed() { "✓" } else { "✗" },
            crate::checker::grade::escape::name(&card.name()),
            card.earned,
            card.possible
        );
        match &progress {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => eprintln!("{line}"),
        }
    };
    let graded = grade::grade(jobs, usize::from(at_once), time_limit, &on_done);
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    // Every check is done: whatever is still our child escaped a process group. Kill it.
    reaper::sweep_all(false);
    graded
}

/// Show `report` as `--format` says: on stdout, and with `--output FILE` in that file too (the
/// text scorecards then stay on stdout).
pub fn show(report: &Report, cli: &Cli, colour: bool) -> Result<(), Stop> {
    let class_mode = cli.class.is_some();
    let machine = render(report, cli.format)?;
    let text = || {
        text_report(
            report,
            class_mode,
            &|_| !(class_mode && cli.summary),
            colour,
        )
    };
    match (&cli.output, machine) {
        (None, None) => emit(&text()),
        (None, Some(machine)) => emit(&machine),
        (Some(file), machine) => {
            emit(&text());
            let content =
                machine.unwrap_or_else(|| text_report(report, class_mode, &|_| true, false));
            super::output::write(file, &content)?;
        }
    }
    Ok(())
}

/// `report` in a machine `format` (`None` for text).
pub fn render(report: &Report, format: Format) -> Result<Option<String>, Stop> {
    match format {
        Format::Text => None,
        Format::Json => Some(grade::to_json(report)),
        Format::Csv => Some(grade::to_csv(report)),
        Format::Junit => Some(grade::to_junit(report)),
        Format::Gradescope => Some(grade::to_gradescope(report)),
        Format::Html => Some(Ok(grade::to_html(report))),
    }
    .transpose()
    .map_err(|e| Stop::Failed(e, "please report this as a bug in grade".into()))
}

/// The scorecards `shown` (by index), the class tables (in `class_mode`), and a grand total.
pub fn text_report(
    report: &Report,
    class_mode: bool,
    shown: &dyn Fn(usize) -> bool,
    colour: bool,
) -> String {
    let mut out = String::new();
    for (i, card) in report.scorecards.iter().enumerate() {
        if shown(i) {
            out += &grade::scorecard(card, colour);
            out += "\n";
        }
    }
    if class_mode {
        let mut lessons: Vec<&str> = report
            .scorecards
            .iter()
            .map(|c| c.lesson.as_str())
            .collect();
        lessons.dedup();
        for lesson in lessons {
            out += &grade::class_table(&report.scorecards, lesson, colour);
            out += "\n";
        }
    }
    if report.scorecards.len() > 1 {
        let passed = report.scorecards.iter().map(|c| c.passed).sum();
        let checks = report.scorecards.iter().map(|c| c.checks.len()).sum();
        out += &format!(
            "all: {}\n",
            grade::total_line(report.earned, report.possible, passed, checks)
                .trim_start_matches("total: ")
        );
    }
    out
}

/// Print to stdout; a closed pipe (`grade … | head`) is not an error worth a panic. Nothing is
/// printed once a signal has come: those results are of programs killed mid-check.
pub fn emit(text: &str) {
    wait_if_stopping();
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}
