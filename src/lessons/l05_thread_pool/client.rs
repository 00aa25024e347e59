//! Lesson 05's client is lesson 02's, unchanged: the wire contract is the same.

pub use crate::lessons::l02_echo::client::run;
