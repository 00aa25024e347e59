//! The program under test, as a command line: the built lesson binary, or whatever a teacher put
//! in `WORKBOOK_TARGET_<LESSON>` (`python3 ana/echo.py`).

use std::os::unix::process::CommandExt;
use std::process::Command;

/// The program under test: the words of a command line, to which each check appends its
/// subcommand and flags (`server --port 0 -q`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    argv: Vec<String>,
}

impl Target {
    /// A target from its words; the first is the program.
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Target {
        Target {
            argv: argv.into_iter().map(Into::into).collect(),
        }
    }

    /// A target from a command line, split into words as a POSIX shell would
    /// (`python3 "my echo.py"` is two words). No shell runs: no globbing, no variables.
    pub fn parse(command_line: &str) -> Result<Target, String> {
        match shlex::split(command_line) {
            Some(words) if !words.is_empty() => Ok(Target { argv: words }),
            Some(_) => Err("the command line is empty".to_string()),
            None => Err(format!(
                "cannot split `{command_line}` into words (unbalanced quotes?)"
            )),
        }
    }

    /// The variable that replaces a lesson's program: `WORKBOOK_TARGET_02_ECHO`.
    pub fn env_var(lesson: &str) -> String {
        format!("WORKBOOK_TARGET_{}", lesson.to_ascii_uppercase())
    }

    /// The program a lesson's tests run: `WORKBOOK_TARGET_<LESSON>` when set and not empty,
    /// otherwise `built` (the lesson binary cargo built, `env!("CARGO_BIN_EXE_02_echo")`).
    pub fn for_lesson(lesson: &str, built: &str) -> Result<Target, String> {
        let var = Target::env_var(lesson);
        match std::env::var(&var) {
            Ok(line) if !line.trim().is_empty() => {
                Target::parse(&line).map_err(|e| format!("{var}: {e}"))
            }
            _ => Ok(Target::new([built])),
        }
    }

    /// The target's words.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// A `Command` for the target with `args` appended, in a process group of its own (so that
    /// it and any children it forks can be killed together).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.argv[0]);
        command.args(&self.argv[1..]).args(args).process_group(0);
        // Narration and errors must be plain text whatever the terminal: the checks read them.
        command.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
        command
    }

    /// The command line as a user would type it, for evidence in failures.
    pub fn display(&self, args: &[&str]) -> String {
        let words = self
            .argv
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied());
        shlex::try_join(words).unwrap_or_else(|_| format!("{:?}", self.argv))
    }
}
