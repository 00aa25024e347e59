//! A server under test on a Unix domain socket (lesson 08's `server --unix PATH`).

use super::server::first_line;
use super::{Process, Target};
use crate::checker::evidence::Failure;

/// A server under test listening on a Unix domain socket: `server --unix PATH` printed
/// `listening on PATH`.
pub struct UnixServer {
    /// The socket file's path.
    pub path: std::path::PathBuf,
    /// The running process (dropped ⇒ killed).
    pub process: Process,
}

impl UnixServer {
    /// Start `target server --unix PATH -q EXTRA…` and wait for `listening on PATH`.
    pub fn start(
        target: &Target,
        path: &std::path::Path,
        extra: &[&str],
    ) -> Result<UnixServer, Failure> {
        let shown = path.display().to_string();
        let mut args = vec!["server", "--unix", &shown, "-q"];
        args.extend_from_slice(extra);
        let (process, line, _) = first_line(target, &args, &shown, &[])?;
        if line != format!("listening on {shown}\n").as_bytes() {
            return Err(
                Failure::new("the first line on stdout is not `listening on PATH`")
                    .command(process.command_line())
                    .expected(format!("listening on {shown}"))
                    .received(line)
                    .stderr(process.stderr()),
            );
        }
        Ok(UnixServer {
            path: path.to_path_buf(),
            process,
        })
    }

    /// A failure that carries this server's command line and stderr as evidence.
    pub fn failure(&self, reason: impl Into<String>) -> Failure {
        Failure::new(reason)
            .command(self.process.command_line())
            .stderr(self.process.stderr())
    }
}
