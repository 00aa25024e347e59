//! The pages cannot drift from the programs: `cargo test --test pages`.
//!
//! A reader copies commands from the pages and compares what they see with what the pages show.
//! So, for every ```console block of every page (`lessons/*.md`, `book/src/**/*.md`, `README.md`):
//!
//! 1. **commands**: every `$ …` line that runs `nc`, `ncat`, `rdate` or `socat` against a lesson's port
//!    (70NN) is run exactly as written by `sh -c`, with only the port replaced by that of the
//!    lesson's server, started with `--port 0` (and the flags of the block's last
//!    `$ cargo run --bin NN -- server …` line; `--rfc868` for `rdate`, which speaks only that).
//!    The reader is modelled as the page tells them to act, with the harness's
//!    [`Input::Script`]: against lesson 01, whose server speaks first (or with `nc -z`, or when
//!    the command brings its own input, `printf … | nc …`), they type nothing and leave the
//!    terminal open; against the others they type one line, wait (at most [`ANSWER`]) until it
//!    comes back — echoed, or sent by a chat room to every member, its sender too — and press
//!    Ctrl-D. The command must end by itself within [`BOUND`] of its start, with status 0, and
//!    print something (but `nc -z`). (That is how this test found that netcat-openbsd's plain
//!    `nc` never ends in either case: it needs `-d`, `-N` or `-q`; and that `printf … | nc -u
//!    -q 1` prints nothing: it stops reading at the end of its input, before the echo.)
//!    Netcats differ (netcat-openbsd's `-N`, `-d`, `-q` are unknown to Nmap's ncat), so each
//!    command runs with the client it names: a `ncat …` line with `ncat`; a `nc …` line with
//!    netcat-openbsd — `nc` when `nc -h` says OpenBSD, else `nc.openbsd`, else it is skipped,
//!    never failed, whatever flavour `nc` is here; a line labelled `# macOS …` is skipped (no
//!    macOS here).
//! 2. **demo output**: the lines a block shows after `$ cargo run --bin NN_name` (the demo) must
//!    be lines the demo prints, equal once every run of digits is read as one number (ports,
//!    addresses, times and fds change from run to run), and the lines of each narrator
//!    (`server │ …`) in the order that narrator prints them. `…` stands for lines left out.
//!    And the `nc …` a demo suggests trying is on its lesson's page, as written (so it is run
//!    by 1.).
//! 3. **error lines**: every `error: …` that a lesson page's "When things go wrong" table shows is
//!    provoked — a port in use, a refused connection, an unknown host, a lost datagram, … — and
//!    must be the line the program prints, digits compared as above, `…` standing for any text.
//!    The line is the row's first code span, read as mdBook reads it: a span that ends inside the
//!    line (a backtick in the line, in a span opened by one) fails, as it would show broken.
//!    A row that this test cannot provoke fails, so that a new row comes with its way to
//!    provoke it (a scenario in [`provoke`]). A socket path is compared as the port is: the
//!    test's own path stands for the page's (`/tmp/08.sock`). `Permission denied` is skipped
//!    where this test may bind a port below 1024 (as root).
//!
//! 4. **example programs**: the output shown after `$ python3 examples/NAME.py` is what it
//!    prints ([`examples`]).
//!
//! Lessons are those of the checks' `LESSONS` table; lesson NN's default port is 70NN.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use workbook::checker::checks::LESSONS;
use workbook::checker::checks::l08_protocol::frames::{encode, read_frame};
use workbook::checker::evidence::Failure;
use workbook::checker::harness::{
    Input, Server, Step, Target, TcpStub, UnixServer, refusing_port, run_with,
};

#[path = "pages/examples.rs"]
mod examples;

/// How long a documented command may take before it counts as hanging.
const BOUND: Duration = Duration::from_secs(10);
/// How long a demo may take (they take a few seconds; this is a machine under load).
const DEMO_BOUND: Duration = Duration::from_secs(120);
/// How long the modelled reader waits for the answer to the line they typed.
const ANSWER: Duration = Duration::from_secs(3);
/// What the modelled reader types.
const TYPED: &str = "hello from the page test";
/// The tools whose commands are run.
const TOOLS: [&str; 4] = ["nc", "ncat", "rdate", "socat"];

/// The binary of a lesson (a name in the checks' `LESSONS` table), built beside this test's
/// binaries: cargo builds every binary of the package before it runs an integration test.
fn binary(lesson: &str) -> Option<String> {
    LESSONS.iter().find(|l| l.name == lesson)?;
    let dir = Path::new(env!("CARGO_BIN_EXE_01_time_server")).parent()?;
    let path = dir.join(lesson);
    path.exists().then(|| path.to_string_lossy().into_owned())
}

/// The lesson that listens on a default port: lesson NN on port 70NN.
fn lesson_of_port(port: &str) -> Option<&'static str> {
    let number = port.strip_prefix("70").filter(|n| n.len() == 2)?;
    let lesson = LESSONS
        .iter()
        .find(|l| l.name.starts_with(&format!("{number}_")))?;
    Some(lesson.name)
}

/// Every page a reader may copy from, with its text.
fn pages() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "md") {
                found.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = vec![root.join("README.md")];
    walk(&root.join("lessons"), &mut found);
    walk(&root.join("book/src"), &mut found);
    found.sort();
    let read = |path: PathBuf| {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        (path.strip_prefix(root).unwrap_or(&path).to_path_buf(), text)
    };
    found.into_iter().map(read).collect()
}

/// The ```console blocks of `text`: each as (line number, its lines).
fn console_blocks(text: &str) -> Vec<(usize, Vec<&str>)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, Vec<&str>)> = None;
    for (n, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match (&mut open, fence) {
            (None, true) if line.trim_start().trim_start_matches('`') == "console" => {
                open = Some((n + 1, Vec::new()));
            }
            // Another fence opened and closed: skip its lines until it closes.
            (None, true) => open = Some((0, Vec::new())),
            (Some(_), true) => blocks.extend(open.take().filter(|(at, _)| *at > 0)),
            (Some((_, lines)), false) => lines.push(line),
            (None, false) => {}
        }
    }
    blocks
}

/// The `# comment` of a command line (its label: which client, which system), or "".
fn comment(line: &str) -> &str {
    line.split_once(" #").map_or("", |(_, c)| c.trim())
}

/// A command line without its `# comment`.
fn command(line: &str) -> &str {
    let line = line.strip_prefix("$ ").unwrap_or(line);
    line.split(" #").next().unwrap_or(line).trim()
}

// ---------------------------------------------------------------------------------------------
// 1. Commands.

/// A documented command to run: where it is, as written, against which lesson, with which server
/// flags.
struct Documented {
    at: String,
    /// The command, without its comment.
    line: String,
    /// The line as the page shows it, comment included.
    full: String,
    lesson: &'static str,
    port: String,
    server_flags: Vec<String>,
}

fn documented_commands() -> Vec<Documented> {
    let mut found = Vec::new();
    for (file, text) in pages() {
        for (start, lines) in console_blocks(&text) {
            let mut server_flags: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (i, line) in lines.iter().enumerate() {
                let Some(rest) = line.strip_prefix("$ ") else {
                    continue;
                };
                let words: Vec<&str> = command(rest).split_whitespace().collect();
                if let [
                    "cargo",
                    "run",
                    "--bin",
                    lesson,
                    "--",
                    "server",
                    ref flags @ ..,
                ] = words[..]
                {
                    let flags = flags.iter().map(|f| f.to_string());
                    server_flags.insert(lesson.to_string(), flags.collect());
                }
                if !words.iter().any(|w| TOOLS.contains(w)) {
                    continue;
                }
                let lesson_port = words.iter().find_map(|w| Some((lesson_of_port(w)?, *w)));
                let Some((lesson, port)) = lesson_port else {
                    continue;
                };
                let mut flags = server_flags.get(lesson).cloned().unwrap_or_default();
                // Our own port replaces the documented one.
                if let Some(at) = flags.iter().position(|f| f == "--port") {
                    flags.drain(at..(at + 2).min(flags.len()));
                }
                if words.contains(&"rdate") && !flags.iter().any(|f| f == "--rfc868") {
                    flags.push("--rfc868".into());
                }
                found.push(Documented {
                    at: format!("{}:{}", file.display(), start + i + 1),
                    line: command(rest).to_string(),
                    full: rest.to_string(),
                    lesson,
                    port: port.to_string(),
                    server_flags: flags,
                });
            }
        }
    }
    found
}

/// Whether `tool` is installed (`sh -c 'command -v tool'`).
fn installed(tool: &str) -> bool {
    let probe = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output();
    probe.is_ok_and(|out| out.status.success())
}

/// The program that runs netcat-openbsd here: `nc` if it is that flavour (`nc -h` names OpenBSD;
/// Nmap's ncat and others do not), else `nc.openbsd` (Debian's name for it beside an `nc` that
/// alternatives point elsewhere), else none.
fn netcat_openbsd() -> Option<&'static str> {
    ["nc", "nc.openbsd"].into_iter().find(|nc| {
        let help = std::process::Command::new(nc)
            .arg("-h")
            .stdin(std::process::Stdio::null())
            .output();
        help.is_ok_and(|out| {
            let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
            text.contains("OpenBSD")
        })
    })
}

/// The line to run for `doc`, with the client it names, or why it cannot run here.
fn with_its_client(doc: &Documented) -> Result<String, String> {
    let label = comment(&doc.full);
    if label.starts_with("macOS") {
        return Err("a macOS command (no macOS here)".into());
    }
    let words: Vec<&str> = doc.line.split(' ').collect();
    if !words.contains(&"nc") {
        return Ok(doc.line.clone());
    }
    let nc = netcat_openbsd().ok_or("netcat-openbsd is not installed (`nc` here is another)")?;
    let words = words.into_iter().map(|w| if w == "nc" { nc } else { w });
    Ok(words.collect::<Vec<_>>().join(" "))
}

/// What is wrong with running `doc` as written, if anything.
fn run_documented(doc: &Documented) -> Option<String> {
    let bin = binary(doc.lesson)?;
    let flags: Vec<&str> = doc.server_flags.iter().map(String::as_str).collect();
    let server = match Server::start_quiet(&Target::new([bin.as_str()]), &flags) {
        Ok(server) => server,
        Err(failure) => return Some(format!("the server did not start: {failure:?}")),
    };
    let port = server.addr.port().to_string();
    let line = match with_its_client(doc) {
        Ok(line) => line,
        Err(why) => return Some(format!("cannot run here: {why}")),
    };
    let words = line.split(' ');
    let replaced = words.map(|w| if w == doc.port { port.as_str() } else { w });
    let line = replaced.collect::<Vec<_>>().join(" ");
    // The reader as the page tells them to act: against a server that speaks first, with
    // `nc -z` (which sends nothing), or when a pipe feeds the command, they type nothing and
    // leave the terminal open; otherwise they type a line, wait for the answer, and press Ctrl-D.
    let piped = doc.line.contains(" | ");
    let types_nothing = doc.lesson == "01_time_server" || doc.line.contains(" -z") || piped;
    let typed = format!("{TYPED}\n");
    let script = [
        Step::Send(typed.as_bytes()),
        Step::WaitFor {
            // Every other server sends the line back: an echo as it is, a chat room to every
            // member, its sender too (behind a `[who] `).
            text: TYPED,
            within: ANSWER,
        },
        Step::CloseStdin,
    ];
    let (input, reader) = match types_nothing {
        true => (Input::KeptOpen, "typing nothing, terminal left open"),
        false => (
            Input::Script(&script),
            "after typing one line, its answer and Ctrl-D",
        ),
    };
    let sh = Target::new(["sh", "-c", &line]);
    let finished = match run_with(&sh, &[], input, BOUND) {
        Ok(finished) => finished,
        Err(failure) => return Some(format!("{failure}\n    ran: {line}")),
    };
    let out = finished.stdout_text();
    let problem = match finished.status {
        None => format!(
            "still running {} s after it started, {reader}",
            BOUND.as_secs()
        ),
        Some(status) if !status.success() => format!("ended with {status}, {reader}"),
        Some(_) if out.trim().is_empty() && !doc.line.contains(" -z") => {
            format!("printed nothing on stdout, {reader}")
        }
        Some(_) => return None,
    };
    let err = finished.stderr_text();
    Some(format!(
        "{problem}\n    ran: {line}\n    stdout: {out:?}\n    stderr: {err:?}"
    ))
}

#[test]
fn every_documented_command_works_as_written() {
    let documented = documented_commands();
    assert!(documented.len() >= 8, "only {} commands", documented.len());
    let mut problems = Vec::new();
    let mut ran = BTreeMap::<&str, usize>::new();
    for doc in &documented {
        let words: Vec<&str> = doc.line.split_whitespace().collect();
        let tools: Vec<&str> = TOOLS.into_iter().filter(|t| words.contains(t)).collect();
        if let Some(missing) = tools.iter().find(|t| !installed(t)) {
            eprintln!(
                "{}: skipped, `{missing}` is not installed: {}",
                doc.at, doc.line
            );
            continue;
        }
        if let Err(why) = with_its_client(doc) {
            eprintln!("{}: skipped, {why}: {}", doc.at, doc.line);
            continue;
        }
        for tool in tools {
            *ran.entry(tool).or_default() += 1;
        }
        if let Some(problem) = run_documented(doc) {
            problems.push(format!("{}: `{}`: {problem}", doc.at, doc.line));
        }
    }
    eprintln!("commands run, by client: {ran:?}");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

// ---------------------------------------------------------------------------------------------
// 2. Demo output.

/// A line as compared: every run of digits one `0`, trailing space gone.
fn normalized(line: &str) -> String {
    let mut out = String::new();
    for c in line.trim_end().chars() {
        match c.is_ascii_digit() {
            // A digit after a digit: still the same number.
            true if out.ends_with('0') => {}
            true => out.push('0'),
            false => out.push(c),
        }
    }
    out
}

/// The narrator of a narrated line (`server` in `  server │ 1. socket…`), if it is one.
fn narrator(line: &str) -> Option<&str> {
    Some(line.split_once('│')?.0.trim())
}

#[test]
fn demo_output_on_the_pages_is_what_the_demos_print() {
    let mut demos: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut compared = 0;
    for (file, text) in pages() {
        for (start, lines) in console_blocks(&text) {
            let mut shown: Vec<(usize, &str, &str)> = Vec::new();
            let mut lesson = None;
            for (i, line) in lines.iter().enumerate() {
                if let Some(rest) = line.strip_prefix("$ ") {
                    let words: Vec<&str> = command(rest).split_whitespace().collect();
                    lesson = match words[..] {
                        ["cargo", "run", "--bin", name] => binary(name).map(|_| name),
                        _ => None,
                    };
                } else if let Some(name) = lesson.filter(|_| !line.trim().starts_with('…')) {
                    shown.push((start + i + 1, name, line));
                }
            }
            for (at, name, line) in shown {
                let real = demos.entry(name.to_string()).or_insert_with(|| demo(name));
                let want = normalized(line);
                let found = real.iter().position(|l| normalized(l) == want);
                compared += 1;
                if found.is_none() {
                    let at = format!("{}:{at}", file.display());
                    problems.push(format!(
                        "{at}: the {name} demo prints no such line: {line}\n    (every digit \
                         run compares equal; run `cargo run --bin {name}` and copy its lines)"
                    ));
                }
            }
        }
    }
    // Order, per narrator, for each block again: cheap enough to do as a second pass.
    for (file, text) in pages() {
        for (start, lines) in console_blocks(&text) {
            problems.extend(order_problems(&file, start, &lines, &demos));
        }
    }
    // The netcat a demo suggests trying is the netcat its page runs (above, as written), flags
    // included: `nc` without `-N` behaves differently at Ctrl-D.
    let mut hints = 0;
    for (file, text) in pages() {
        let Some(name) = file.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if !file.starts_with("lessons") || binary(name).is_none() {
            continue;
        }
        let real = demos.entry(name.to_string()).or_insert_with(|| demo(name));
        let shown: Vec<&str> = console_blocks(&text)
            .into_iter()
            .flat_map(|(_, lines)| lines)
            .filter_map(|l| Some(command(l.strip_prefix("$ ")?)))
            .collect();
        for hint in real.iter().map(|l| command(l.trim())) {
            if hint.starts_with("nc ") {
                hints += 1;
                if !shown.contains(&hint) {
                    problems.push(format!(
                        "the {name} demo suggests `{hint}`, which {} does not show: make the \
                         hint and the page agree",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(compared >= 20, "only {compared} demo lines compared");
    assert!(hints >= 6, "only {hints} demo hints compared");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Lines of one narrator that a block shows in another order than the demo prints them.
fn order_problems(
    file: &Path,
    start: usize,
    lines: &[&str],
    demos: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut lesson: Option<&Vec<String>> = None;
    // For each narrator: how far into the demo's lines its last shown line was found.
    let mut reached: BTreeMap<String, usize> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(rest) = line.strip_prefix("$ ") {
            let words: Vec<&str> = command(rest).split_whitespace().collect();
            lesson = match words[..] {
                ["cargo", "run", "--bin", name] => demos.get(name),
                _ => None,
            };
            reached.clear();
            continue;
        }
        let (Some(real), Some(who)) = (lesson, narrator(line)) else {
            continue;
        };
        let from = reached.get(who).copied().unwrap_or(0);
        let want = normalized(line);
        match real[from..].iter().position(|l| normalized(l) == want) {
            Some(p) => {
                reached.insert(who.to_string(), from + p + 1);
            }
            // Found earlier, not after the previous line of the same narrator.
            None if real.iter().any(|l| normalized(l) == want) => problems.push(format!(
                "{}:{}: `{who}` prints this line before the one shown above it: {line}",
                file.display(),
                start + i + 1
            )),
            None => {}
        }
    }
    problems
}

/// The demo's output: stderr, then stdout, line by line.
fn demo(name: &str) -> Vec<String> {
    let demo = Target::new([binary(name).unwrap_or_default()]);
    let finished = run_with(&demo, &[], Input::Bytes(b""), DEMO_BOUND);
    let finished = finished.unwrap_or_else(|e| panic!("could not run the {name} demo: {e:?}"));
    let ok = finished.status.is_some_and(|s| s.success());
    assert!(ok, "the {name} demo failed: {finished:?}");
    let text = finished.stderr_text() + &finished.stdout_text();
    text.lines().map(String::from).collect()
}

// ---------------------------------------------------------------------------------------------
// 3. Error lines.

/// The `error: …` lines of a lesson page's tables: (line number, the text of the code span that
/// opens the row, or why that span does not show the line).
fn error_rows(text: &str) -> Vec<(usize, Result<String, String>)> {
    let rows = text.lines().enumerate().filter_map(|(n, line)| {
        let cell = line.strip_prefix("| ")?;
        // A code span opened by N backticks ends at the next N (CommonMark), so a line that holds
        // a backtick itself is written as ``error: … `nope` …``; a cell may go on after its span.
        let ticks = cell.len() - cell.trim_start_matches('`').len();
        let (fence, inside) = cell.split_at(ticks);
        if ticks == 0 || !inside.trim_start().starts_with("error: ") {
            return None;
        }
        let Some(end) = inside.find(fence) else {
            return Some((n + 1, Err("its code span is never closed".to_string())));
        };
        let span = inside[..end].trim();
        // A span that ends inside a word ended at a backtick of the line, not at its own.
        let row = match inside[end + ticks..].chars().next() {
            Some(c) if c.is_alphanumeric() || c == '`' => Err(format!(
                "its code span ends early, at `{span}`: the line holds a backtick; open and \
                 close the span with two (``error: … `name` …``)"
            )),
            _ => Ok(span.to_string()),
        };
        Some((n + 1, row))
    });
    rows.collect()
}

/// Whether the page's `shown` line is the `real` one: the pieces between `…` appear in order, each
/// run of digits compared as one number; the real line may go on after the last piece (the
/// page leaves out `(os error 98)`).
fn shows(shown: &str, real: &str) -> bool {
    let real = normalized(real);
    let mut rest = real.as_str();
    for (i, piece) in normalized(shown).split('…').enumerate() {
        let piece = piece.trim();
        match rest.find(piece) {
            Some(0) => rest = &rest[piece.len()..],
            Some(at) if i > 0 => rest = &rest[at + piece.len()..],
            _ => return false,
        }
    }
    true
}

/// Why a row was not checked.
const NO_WAY: &str = "no way to provoke this row";

/// The arguments a lesson's client takes after `--port P -q`.
fn client_args(lesson: &str) -> Vec<&'static str> {
    match lesson {
        "01_time_server" | "06_group_chat" => vec![],
        _ => vec!["hello"],
    }
}

/// Provoke what a row describes and return the program's `error:` line, or why not.
fn provoke(lesson: &str, row: &str) -> Result<String, String> {
    let bin = binary(lesson).ok_or("no such lesson")?;
    let target = Target::new([bin.as_str()]);
    let fail = |e: Failure| format!("{e:?}");
    let socket = SocketPath::new();
    let socket_path = socket.0.to_string_lossy().into_owned();
    let run = |args: &[&str]| run_with(&target, args, Input::Bytes(b""), BOUND).map_err(fail);
    let client = |port: &str| {
        let mut args = vec!["client", "--port", port, "-q"];
        args.extend(client_args(lesson));
        run(&args)
    };
    let finished = if row.contains("Address already in use") {
        let server = Server::start_quiet(&target, &[]).map_err(fail)?;
        run(&["server", "--port", &server.addr.port().to_string(), "-q"])?
    } else if row.contains("failed to clone the listening socket: Too many open files") {
        // The accept model's workers each dup() the listener: more workers than descriptors.
        let line =
            format!("ulimit -n 20; exec {bin} server --port 0 -q --model accept --workers 40");
        run_with(
            &Target::new(["sh", "-c", &line]),
            &[],
            Input::Bytes(b""),
            BOUND,
        )
        .map_err(fail)?
    } else if row.contains("Connection refused") {
        let refusing = refusing_port().map_err(fail)?;
        client(&refusing.port().to_string())?
    } else if row.contains("could not resolve host") {
        let mut args = vec!["client", "--host", "nope", "-q"];
        args.extend(client_args(lesson));
        run(&args)?
    } else if row.contains("no reply from") {
        // A UDP socket that never answers: every try times out.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = silent.local_addr().map_err(|e| e.to_string())?.port();
        client(&port.to_string())?
    } else if row.contains("does not fit in one UDP datagram") {
        let server = Server::start_quiet(&target, &[]).map_err(fail)?;
        let big = "x".repeat(70_000);
        run(&[
            "client",
            "--port",
            &server.addr.port().to_string(),
            "-q",
            &big,
        ])?
    } else if row.contains("Connection reset by peer") {
        // A server that answers one recv() and closes, with the rest of the message unread.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let once = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut conn, _) = listener.accept()?;
            let mut buf = [0; 1024];
            let n = conn.read(&mut buf)?;
            conn.write_all(&buf[..n])
        });
        let long = "x".repeat(5000);
        let finished = run(&["client", "--port", &port.to_string(), "-q", &long])?;
        let _ = once.join();
        finished
    } else if row.contains("Permission denied") {
        run(&["server", "--port", privileged_port(row), "-q"])?
    } else if row.contains("header length") {
        // A peer that writes its lengths little-endian: it answers the client's request with the
        // same frame, the two bytes of its header length swapped.
        let stub = TcpStub::start("127.0.0.1:0", |conn| {
            let request = read_frame(conn).map_err(|e| Failure::new(e.to_string()))?;
            let request = request.ok_or_else(|| Failure::new("the client sent no request"))?;
            let mut frame = encode(&request);
            frame.swap(0, 1);
            conn.write_all(&frame).map_err(Failure::io("answering"))?;
            Ok(Vec::new())
        })
        .map_err(fail)?;
        let finished = client(&stub.addr.port().to_string())?;
        stub.finish().map_err(fail)?;
        finished
    } else if row.contains(" is in use") {
        let server = UnixServer::start(&target, &socket.0, &[]).map_err(fail)?;
        run(&["server", "--unix", &server.path.to_string_lossy(), "-q"])?
    } else if row.contains("failed to connect to /") {
        // Nobody made the socket file: nothing listens on that path.
        let mut args = vec!["client", "--unix", socket_path.as_str(), "-q"];
        args.extend(client_args(lesson));
        run(&args)?
    } else {
        return Err(format!("{NO_WAY}: add one to `provoke` in tests/pages.rs"));
    };
    let err = finished.stderr_text();
    let line = err.lines().find(|l| l.starts_with("error: "));
    let line = line.ok_or_else(|| format!("no `error:` line; stderr: {err:?}"))?;
    // The socket path is ours, as the port is: the page's stands for it.
    Ok(match page_path(row) {
        Some(shown) => line.replace(&socket_path, shown),
        None => line.to_string(),
    })
}

/// The socket file path a row shows (`/tmp/08.sock`), if any.
fn page_path(row: &str) -> Option<&str> {
    let word = row.split_whitespace().find(|w| w.starts_with('/'))?;
    Some(word.trim_end_matches(':'))
}

/// The port below 1024 a `Permission denied` row shows (`127.0.0.1:80: Permission denied`), or 80.
fn privileged_port(row: &str) -> &str {
    let before = row.split(": Permission denied").next().unwrap_or_default();
    let port = before.rsplit(':').next().unwrap_or_default();
    match port.parse::<u16>() {
        Ok(p) if p < 1024 => port,
        _ => "80",
    }
}

/// Whether this test may bind the port of a `Permission denied` row (it runs as root, or the
/// system lowered `net.ipv4.ip_unprivileged_port_start`): then the row cannot be provoked.
fn may_bind(row: &str) -> bool {
    let bound =
        std::net::TcpListener::bind(("127.0.0.1", privileged_port(row).parse().unwrap_or(80)));
    !matches!(bound, Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied)
}

/// A socket file path of this test's own, removed when dropped (a killed server leaves its file).
struct SocketPath(PathBuf);

impl SocketPath {
    fn new() -> SocketPath {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("pages-{}-{n}.sock", std::process::id());
        SocketPath(std::env::temp_dir().join(name))
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn an_error_row_is_read_as_its_code_span_shows_it() {
    let rows = error_rows(
        "| `error: failed to bind …` | busy | stop it |\n\
         | `error: failed to read the echo: …` after a long message | reset | read to the end |\n\
         | `` error: could not resolve host `nope`: … `` | no such name | check it |\n\
         | `error: could not resolve host `nope`: …` | no such name | check it |\n\
         | the client waits, then `error: …` | silence | wait |\n",
    );
    let shown: Vec<_> = rows.iter().map(|(n, row)| (*n, row.as_deref())).collect();
    assert_eq!(
        shown[..3],
        [
            (1, Ok("error: failed to bind …")),
            (2, Ok("error: failed to read the echo: …")),
            (3, Ok("error: could not resolve host `nope`: …")),
        ]
    );
    assert!(
        matches!(shown[3], (4, Err(why)) if why.contains("ends early")),
        "{:?}",
        shown[3]
    );
    assert_eq!(
        rows.len(),
        4,
        "a row that does not open with the error line is not one"
    );
}

#[test]
fn error_lines_on_the_lesson_pages_are_what_the_programs_print() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (mut problems, mut checked) = (Vec::new(), 0);
    for (file, text) in pages()
        .into_iter()
        .filter(|(f, _)| f.starts_with("lessons"))
    {
        let Some(lesson) = file.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if binary(lesson).is_none() {
            continue;
        }
        for (line, row) in error_rows(&text) {
            let at = format!(
                "{}:{line}",
                file.strip_prefix(root).unwrap_or(&file).display()
            );
            let row = match row {
                Ok(row) => row,
                Err(why) => {
                    problems.push(format!("{at}: {why}"));
                    continue;
                }
            };
            if row.contains("Permission denied") && may_bind(&row) {
                eprintln!("{at}: skipped: this test may bind that port (as root): {row}");
                continue;
            }
            checked += 1;
            match provoke(lesson, &row) {
                Ok(real) if shows(&row, &real) => {}
                Ok(real) => problems.push(format!(
                    "{at}: the page shows\n    {row}\n  the \
                                                   program prints\n    {real}"
                )),
                Err(why) => problems.push(format!("{at}: {row}: {why}")),
            }
        }
    }
    assert!(checked >= 10, "only {checked} error lines checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
