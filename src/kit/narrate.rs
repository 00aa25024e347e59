//! Narration: the story of every socket call, told on stderr.
//!
//! stdout is the contract (`listening on ADDR`, or the data a client received); stderr is the
//! story. Each lesson narrates right next to the real socket call, always in one form,
//! [`narrate!`]`(say, call(…))`, so a learner reading the source sees the call and its narration
//! side by side, a learner running the binary sees the calls happen in order, numbered, with their
//! arguments and results, and the book (`book/hide-narration`) folds every narration statement
//! behind a listing's eye button exactly, by that one form.
//!
//! Colour is used only when stderr is a terminal and `NO_COLOR` is unset ([`init_colour`]).

use std::fmt::Display;
use std::io::{IsTerminal, StderrLock};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use colored::{Color, Colorize};

/// `narrate!(say, call("accept()", format!("connection from {peer}")))`: narration, marked.
///
/// It is `say.call(…)` (or `note`, `warn`, `hold`, a [`Chatter`]'s `note`, …), run only when
/// narration is on: under `-q` not even the arguments are formatted. It is the one form narration
/// takes in the lessons, so the book folds every narration statement exactly, and nothing else.
/// Its value is the method's, or the type's default under `-q` (`()`, or `None` for
/// [`Narrator::hold`]).
#[macro_export]
macro_rules! narrate {
    ($narrator:expr, $method:ident($($args:tt)*)) => {{
        let narrator = &$narrator;
        if narrator.is_quiet() {
            ::std::default::Default::default()
        } else {
            narrator.$method($($args)*)
        }
    }};
}

/// [`narrate!`] beside [`Narrator`], so a lesson imports them together:
/// `use crate::kit::narrate::{Narrator, narrate};`.
pub use crate::narrate;

/// Decide once, at start-up, whether narration is coloured.
///
/// `colored` already honours `NO_COLOR`, but not whether stderr is a terminal: piped into a file
/// or a test, escape codes would only be noise.
pub fn init_colour() {
    let wanted = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    colored::control::set_override(wanted);
}

/// Tells the story of one role (`server`, `client`, `worker 2`, …) on stderr.
///
/// Calls are numbered per narrator, so a learner can match the numbers against the lesson page.
/// A narrator can be shared between threads (`&Narrator` or `Arc<Narrator>`): the counter is
/// atomic and each line is written with one `eprintln!`, so lines never interleave mid-line.
#[derive(Debug)]
pub struct Narrator {
    role: String,
    colour: Color,
    quiet: bool,
    step: AtomicUsize,
}

impl Narrator {
    /// A narrator for `role`; `quiet` (the `-q` flag) silences everything it would say.
    pub fn new(role: impl Into<String>, quiet: bool) -> Self {
        let role = role.into();
        let colour = role_colour(&role);
        Narrator {
            role,
            colour,
            quiet,
            step: AtomicUsize::new(0),
        }
    }

    /// A narrator for another role with its own numbering and the same `quiet` setting:
    /// e.g. one per accepted connection.
    pub fn for_role(&self, role: impl Into<String>) -> Narrator {
        Narrator::new(role, self.quiet)
    }

    /// Whether narration is silenced.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// A narrator for the thread it is called on, named after that thread (`worker-2`), or
    /// after this narrator's role if the thread has no name; same `quiet` setting.
    pub fn for_this_thread(&self) -> Narrator {
        self.for_role(std::thread::current().name().unwrap_or(&self.role))
    }

    /// Keep stderr to this thread until the guard is dropped, so that what this thread tells
    /// next comes before anything another thread says: a server that spawns a thread and then
    /// narrates the spawn holds stderr across both, so the new thread's first words come after
    /// the spawn is told. The lock is reentrant: this thread can still narrate while it holds it.
    /// `None` under `-q` (through [`narrate!`]: `let _story = narrate!(say, hold());`).
    pub fn hold(&self) -> Option<StderrLock<'static>> {
        Some(std::io::stderr().lock())
    }

    /// The role's name, as printed in front of every line.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// Narrate one socket call with its result: `server │ 3. listen(backlog=16) → ok`.
    pub fn call(&self, call: impl Display, result: impl Display) {
        if self.quiet {
            return;
        }
        let n = self.step.fetch_add(1, Ordering::Relaxed) + 1;
        eprintln!(
            "{} {}. {} {} {}",
            self.prefix(),
            n,
            call.to_string().bold(),
            "→".dimmed(),
            result
        );
    }

    /// An explanation between calls: why the next thing happens.
    pub fn note(&self, text: impl Display) {
        if !self.quiet {
            eprintln!("{} {}", self.prefix(), text.to_string().dimmed());
        }
    }

    /// Something the learner should not miss (e.g. binding 0.0.0.0). Silenced by `-q` too.
    pub fn warn(&self, text: impl Display) {
        if !self.quiet {
            eprintln!("{} {} {}", self.prefix(), "note:".yellow().bold(), text);
        }
    }

    fn prefix(&self) -> String {
        format!("{:>8} │", self.role).color(self.colour).to_string()
    }
}

/// A stable colour per role, so `server` is always the same colour and each client differs.
pub fn role_colour(role: &str) -> Color {
    const PALETTE: [Color; 6] = [
        Color::Cyan,
        Color::Green,
        Color::Magenta,
        Color::Blue,
        Color::Yellow,
        Color::Red,
    ];
    if role == "server" {
        return Color::Cyan;
    }
    // FNV-1a: tiny, and the same name gets the same colour in every run (unlike std's
    // randomly seeded hasher).
    let hash = role.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    PALETTE[1 + (hash % (PALETTE.len() as u64 - 1)) as usize]
}

/// Show bytes the way a learner can read them: printable ASCII as is, the rest escaped, long
/// data cut in the middle with its length (`b"hello\n"`, `b"aaaa…(1048576 bytes)"`).
pub fn show_bytes(data: &[u8], max: usize) -> String {
    let escaped = |bytes: &[u8]| bytes.escape_ascii().to_string();
    if data.len() <= max {
        format!("b\"{}\"", escaped(data))
    } else {
        format!("b\"{}…\" ({} bytes)", escaped(&data[..max]), data.len())
    }
}

/// The closing lines of every demo: the commands to run the same lesson in two terminals.
pub fn try_next(commands: &[String]) {
    use colored::Colorize;
    eprintln!();
    eprintln!("{}", "Try it in two terminals:".bold());
    for command in commands {
        eprintln!("    {command}");
    }
}

/// A call's result as narration shows it: `ok`, or `failed: …`.
pub fn result_text(result: &std::io::Result<()>) -> String {
    match result {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("failed: {e}"),
    }
}

/// Narration that stays readable when a server is busy: the first few events of a kind in each
/// second are told, the rest only counted (`… 4,996 more broadcasts not shown`). Shared by
/// lesson 06's threads (hence the lock) and lesson 07's loop.
pub struct Chatter<'a> {
    say: &'a Narrator,
    what: &'static str,
    window: Mutex<(Instant, u32, u64)>,
}

/// How many events of one kind are told in full each second.
const TOLD_PER_SECOND: u32 = 5;

impl<'a> Chatter<'a> {
    /// Note at most a few events of the kind `what` per second.
    pub fn new(say: &'a Narrator, what: &'static str) -> Chatter<'a> {
        Chatter {
            say,
            what,
            window: Mutex::new((Instant::now(), 0, 0)),
        }
    }

    /// Whether narration is silenced (that of the narrator this chatter tells through).
    pub fn is_quiet(&self) -> bool {
        self.say.is_quiet()
    }

    /// Say how many events went untold, and start counting afresh.
    pub fn flush(&self) {
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        self.restart(&mut window);
    }

    fn restart(&self, window: &mut (Instant, u32, u64)) {
        if window.2 > 0 {
            self.say
                .note(format!("… {} more {} not shown", window.2, self.what));
        }
        *window = (Instant::now(), 0, 0);
    }

    /// Note `text()` if fewer than a few events were noted this second; otherwise count it.
    pub fn note(&self, text: impl FnOnce() -> String) {
        if self.say.is_quiet() {
            return;
        }
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        if window.0.elapsed() >= Duration::from_secs(1) {
            self.restart(&mut window);
        }
        if window.1 < TOLD_PER_SECOND {
            window.1 += 1;
            self.say.note(text());
        } else {
            window.2 += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_bytes_escapes_and_truncates() {
        assert_eq!(show_bytes(b"hi\n\xff", 10), "b\"hi\\n\\xff\"");
        assert_eq!(show_bytes(b"abcdef", 3), "b\"abc…\" (6 bytes)");
    }

    #[test]
    fn role_colours_are_stable() {
        assert_eq!(role_colour("server"), Color::Cyan);
        assert_eq!(role_colour("ana"), role_colour("ana"));
    }
}
