//! The learner's kit: what the lessons share. Plumbing, never a lesson's subject: that lives in its
//! lesson (`crate::lessons`), and a later lesson uses it by that lesson's name (lesson 02's echo
//! loop is `lessons::l02_echo::server::echo_until_closed`). Imports nothing from the checker.

pub mod backoff;
pub mod cli;
pub mod errors;
pub mod narrate;
pub mod net;
pub mod shutdown;
