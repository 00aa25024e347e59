//! The echo charts of the book's "Measuring servers": requests per second against the number of
//! clients, one line per server. `bench suite` draws them after a run; `bench charts` draws them
//! again from the recorded results.txt, so a change to the drawing needs no new measurement.
//!
//! What makes them readable: the legend beside the plot (never over a point), each server's
//! points nudged sideways within their column so that equal values (every server serves one
//! client at about the same rate) stay visible, a marker shape per server, text of at least
//! 16 px at the chart's own size, and the Okabe–Ito palette, which stays distinct with any of the
//! common colour-vision deficiencies (its yellow is left out: it vanishes on white).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use plotters::coord::CoordTranslate;
use plotters::prelude::*;

/// One measured echo figure: server, clients, message size in bytes, requests per second.
pub struct Point {
    pub server: String,
    pub clients: usize,
    pub size: usize,
    pub per_second: f64,
}

#[derive(clap::Args)]
pub struct Args {
    /// The results a `bench suite` run wrote; the charts are written beside it.
    #[arg(long, default_value = "book/src/bench/results.txt")]
    from: PathBuf,
}

/// `bench charts`: draw the charts again from a recorded results.txt.
pub fn run(args: &Args) -> Result<()> {
    let text = std::fs::read_to_string(&args.from)
        .with_context(|| format!("cannot read {} (run bench/run first)", args.from.display()))?;
    let points = parse(&text).with_context(|| format!("in {}", args.from.display()))?;
    let out = args.from.parent().unwrap_or(Path::new("."));
    draw_all(&points, out)?;
    eprintln!("wrote the charts beside {}", args.from.display());
    Ok(())
}

/// Both charts the book shows, into `out`.
pub fn draw_all(points: &[Point], out: &Path) -> Result<()> {
    draw(points, 512, &out.join("echo-512.svg"))?;
    draw(points, 65536, &out.join("echo-64k.svg"))?;
    Ok(())
}

/// The rows of results.txt's "### Echo" table, as `table` in suite.rs writes them:
/// `| server | clients | size | req/s | MB/s | p50 ms | p99 ms | errors |`.
fn parse(text: &str) -> Result<Vec<Point>> {
    let table = text
        .split("### Echo")
        .nth(1)
        .context("no \"### Echo\" table")?
        .split("\n###")
        .next()
        .unwrap_or_default();
    let mut points = Vec::new();
    for line in table.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 4 || cells[0] == "server" || cells[0].starts_with("---") {
            continue;
        }
        let bad = || anyhow!("a row that is not server | clients | size | req/s: {line}");
        let size = match cells[2].split_once(' ') {
            Some((n, "B")) => n.parse::<usize>().map_err(|_| bad())?,
            Some((n, "KiB")) => n.parse::<usize>().map_err(|_| bad())? * 1024,
            _ => return Err(bad()),
        };
        points.push(Point {
            server: cells[0].to_string(),
            clients: cells[1].parse().map_err(|_| bad())?,
            size,
            per_second: cells[3].parse().map_err(|_| bad())?,
        });
    }
    if points.is_empty() {
        bail!("the \"### Echo\" table has no rows");
    }
    Ok(points)
}

pub fn human_size(size: usize) -> String {
    if size >= 1024 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

/// Okabe & Ito's colour-blind-safe palette, without its yellow.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x00, 0x00, 0x00), // black
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
];

/// Text sizes as plotters takes them; its SVGs show text at 0.8 of that (so 16 px and 19 px) at
/// the chart's own size, which is the size the book shows it at on a laptop.
const TITLE: u32 = 24;
const TEXT: u32 = 20;
/// How far apart two servers' points sit in a column, in columns (one column is ~165 px wide).
const NUDGE: f64 = 0.08;
const WIDTH: u32 = 760;
const HEIGHT: u32 = 440;
/// The legend's column, right of the plot.
const LEGEND: u32 = 170;

/// Requests per second against the number of clients, one line per server, for one size.
/// Returns where the markers were drawn (pixel centres), for the tests.
fn draw(points: &[Point], size: usize, path: &Path) -> Result<Vec<(i32, i32)>> {
    let plot_err = |e| anyhow!("drawing {}: {e:?}", path.display());
    let mut names: Vec<&str> = Vec::new();
    for p in points {
        if !names.contains(&p.server.as_str()) {
            names.push(&p.server);
        }
    }
    let top = points
        .iter()
        .filter(|p| p.size == size)
        .map(|p| p.per_second)
        .fold(1.0, f64::max);
    // One column per client count, evenly spaced (1, 50, 500 are far apart on any other scale).
    let mut counts: Vec<usize> = points.iter().map(|p| p.clients).collect();
    counts.sort_unstable();
    counts.dedup();
    let max_x = counts.len().saturating_sub(1) as f64;
    // Each server's points sit a little left or right of their column's centre, in legend
    // order, so that servers with equal figures do not hide one another.
    let nudge = |i: usize| (i as f64 - (names.len() as f64 - 1.0) / 2.0) * NUDGE;
    let series = |i: usize, name: &str| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter(|p| p.server == name && p.size == size)
            .filter_map(|p| {
                let column = counts.iter().position(|&c| c == p.clients)? as f64;
                Some((column + nudge(i), p.per_second))
            })
            .collect()
    };

    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let root = root
        .titled(
            &format!("echo, {} messages: requests/s by clients", human_size(size)),
            ("sans-serif", TITLE),
        )
        .map_err(plot_err)?;
    let (plot, legend) = root.split_horizontally(WIDTH - LEGEND);
    let mut chart = ChartBuilder::on(&plot)
        .margin(10)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..max_x + 0.5, 0.0..top * 1.1)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("concurrent clients")
        .y_desc("requests/s")
        .label_style(("sans-serif", TEXT))
        .axis_desc_style(("sans-serif", TEXT))
        .x_labels(counts.len())
        .x_label_formatter(&|x| {
            let i = x.round();
            match counts.get(i as usize) {
                Some(c) if (x - i).abs() < 0.01 && i >= 0.0 => c.to_string(),
                _ => String::new(),
            }
        })
        .disable_x_mesh()
        .max_light_lines(0)
        .y_label_formatter(&|y| format!("{:.0}k", y / 1000.0))
        .draw()
        .map_err(plot_err)?;
    let mut drawn = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let line = series(i, name);
        drawn.extend(line.iter().map(|p| chart.backend_coord(p)));
        chart
            .draw_series(LineSeries::new(line.clone(), colour.stroke_width(3)))
            .map_err(plot_err)?;
        for p in line {
            mark(chart.plotting_area(), i, p, colour)?;
        }
    }

    // The legend, in its own column: a line with the server's marker, and its name.
    for (i, name) in names.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let y = 60 + 34 * i as i32;
        legend
            .draw(&PathElement::new(
                vec![(4, y), (36, y)],
                colour.stroke_width(3),
            ))
            .map_err(plot_err)?;
        mark(&legend, i, (20, y), colour)?;
        legend
            .draw(&Text::new(
                name.to_string(),
                (44, y - TEXT as i32 / 2),
                ("sans-serif", TEXT),
            ))
            .map_err(plot_err)?;
    }
    root.present().map_err(plot_err)?;
    Ok(drawn)
}

/// Server `i`'s marker at `at` on `area` (the plot's coordinates or the legend's pixels): a shape
/// per server, so that colour is not the only difference.
fn mark<DB, X>(area: &DrawingArea<DB, X>, i: usize, at: X::From, colour: RGBColor) -> Result<()>
where
    DB: DrawingBackend,
    X: CoordTranslate,
    X::From: Clone,
{
    let fill = colour.filled();
    match i % 4 {
        0 => area.draw(&Circle::new(at, 6, fill)),
        1 => area.draw(&TriangleMarker::new(at, 7, fill)),
        2 => area.draw(&(EmptyElement::at(at) + Rectangle::new([(-5, -5), (5, 5)], fill))),
        _ => area.draw(&Cross::new(at, 6, colour.stroke_width(3))),
    }
    .map_err(|e| anyhow!("drawing a marker: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The least distance between two markers' centres, in px: about a marker's width.
    const APART: f64 = 12.0;

    fn recorded() -> Vec<Point> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/bench/results.txt");
        parse(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// Every server's every point can be seen: no marker covers another, even where servers
    /// measured the same (at one client they all serve about 18,000 requests a second).
    #[test]
    fn no_marker_covers_another() {
        let dir = tempfile::tempdir().unwrap();
        for size in [512, 65536] {
            let drawn = draw(&recorded(), size, &dir.path().join("chart.svg")).unwrap();
            assert_eq!(
                drawn.len(),
                1 + 5 * 3,
                "every point (02 has one client only)"
            );
            for (n, a) in drawn.iter().enumerate() {
                for b in &drawn[n + 1..] {
                    let apart = f64::from(a.0 - b.0).hypot(f64::from(a.1 - b.1));
                    assert!(
                        apart >= APART,
                        "{size} B: markers at {a:?} and {b:?} overlap"
                    );
                }
            }
        }
    }

    /// The legend sits right of the plot, and no text is under 12 px at the chart's own size.
    #[test]
    fn legend_beside_the_plot_and_text_legible() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.svg");
        let drawn = draw(&recorded(), 512, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let rightmost = drawn.iter().map(|p| p.0).max().unwrap();
        for name in ["02_echo", "std baseline", "socat"] {
            let at = svg
                .find(&format!(">\n{name}\n<"))
                .expect("the legend names the server");
            let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
            let x: f64 = tag
                .split("x=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                x > f64::from(rightmost) + APART,
                "{name}'s legend at x={x} is over the data"
            );
        }
        for size in svg.split("font-size=\"").skip(1) {
            let px: f64 = size.split('"').next().unwrap().parse().unwrap();
            assert!(px >= 12.0, "text of {px} px");
        }
    }
}
