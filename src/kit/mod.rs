//! The learner's kit: what the lessons share. Plumbing, never a lesson's subject: that lives in its
//! lesson (`crate::lessons`), and a later lesson uses it by that lesson's name (lesson 02's echo
//! loop is `lessons::l02_echo::server::echo_until_closed`). Imports nothing from the checker.

pub mod backoff;
pub mod cli;
pub mod errors;
pub mod narrate;
pub mod net;
pub mod shutdown;

/// `a == b`, usable at compile time (std's `==` on `str` is not `const`): how the registry and
/// the checker look a name up in a `const` table, so that a missing name stops the build.
pub const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
