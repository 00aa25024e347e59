//! `grade --watch`: grade, then grade again each time a file of the program changes.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{Cli, Format, Stop, grade_once};

/// `--watch`: grade, then wait for a change to the student's files and grade again — rustlings'
/// loop, for a program in any language. Changes are found by polling modification times and
/// sizes a few times a second (no busy loop; no file-system events to miss on network folders),
/// and a burst of saves is graded once. Ends on Ctrl-C, like any run of `grade`.
pub fn watch(cli: &Cli) -> Result<ExitCode, Stop> {
    if cli.format != Format::Text {
        return Err(Stop::Usage(
            "--watch prints scorecards for people: it takes no --format".into(),
            "drop --format, or drop --watch".into(),
        ));
    }
    let roots: Vec<PathBuf> = match &cli.student {
        Some(dir) => vec![dir.clone()],
        None => cli
            .command
            .iter()
            .map(PathBuf::from)
            .filter(|path| path.exists())
            .collect(),
    };
    if roots.is_empty() {
        return Err(Stop::Usage(
            "--watch found no file to watch in the command".into(),
            "name the program's file in it (grade 02 --watch -- python3 echo.py), or use \
             --student DIR"
                .into(),
        ));
    }
    let mut seen = watched::snapshot(&roots);
    loop {
        let outcome = grade_once(cli.clone());
        if let Err(stop) = outcome {
            // A broken run.toml is worth a message, not the end of the watch: it may be fixed.
            stop.report();
        }
        eprintln!(
            "watching {} file(s) for changes; Ctrl-C to stop",
            seen.len()
        );
        let changed = watched::wait_for_change(&roots, &mut seen);
        println!("\n── {} changed: grading again ──\n", changed.display());
    }
}

/// The files `--watch` polls: their modification times and sizes.
mod watched {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, SystemTime};

    /// How often the files are looked at.
    const POLL: Duration = Duration::from_millis(300);
    /// At most this many files are watched in a folder, at most this deep: a student folder is
    /// small, and a stray `node_modules` must not make every poll slow.
    const MAX_FILES: usize = 2000;
    const MAX_DEPTH: usize = 4;

    /// (path, modified, size) of each watched file, sorted by path.
    pub type Snapshot = Vec<(PathBuf, Option<SystemTime>, u64)>;

    pub fn snapshot(roots: &[PathBuf]) -> Snapshot {
        let mut files = Snapshot::new();
        for root in roots {
            walk(root, 0, &mut files);
        }
        files.sort();
        files.dedup();
        files
    }

    fn walk(path: &Path, depth: usize, files: &mut Snapshot) {
        if files.len() >= MAX_FILES {
            return;
        }
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if meta.is_file() {
            files.push((path.to_path_buf(), meta.modified().ok(), meta.len()));
            return;
        }
        if !meta.is_dir() || depth > MAX_DEPTH {
            return;
        }
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        children.sort();
        for child in children {
            let name = child.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // Hidden folders, build output and caches change without the student saving.
            if name.starts_with('.') || matches!(name, "target" | "__pycache__" | "node_modules") {
                continue;
            }
            walk(&child, depth + 1, files);
        }
    }

    /// Block until a file changes (or appears, or goes), then until the files have been still
    /// for one poll (an editor's burst of writes is one change). Returns a changed file, and
    /// leaves `seen` up to date.
    pub fn wait_for_change(roots: &[PathBuf], seen: &mut Snapshot) -> PathBuf {
        loop {
            std::thread::sleep(POLL);
            let now = snapshot(roots);
            if now == *seen {
                continue;
            }
            let changed = first_difference(seen, &now);
            let mut settled = now;
            loop {
                std::thread::sleep(POLL);
                let again = snapshot(roots);
                if again == settled {
                    break;
                }
                settled = again;
            }
            *seen = settled;
            return changed;
        }
    }

    fn first_difference(before: &Snapshot, after: &Snapshot) -> PathBuf {
        after
            .iter()
            .find(|file| !before.contains(file))
            .or_else(|| before.iter().find(|file| !after.contains(file)))
            .map_or_else(PathBuf::new, |(path, ..)| path.clone())
    }
}
