//! The learner's kit: what the lessons share. Plumbing, never a lesson's subject — except code an
//! earlier lesson taught (lesson 02's echo loop, reused by 04 and 05 from one copy). Imports
//! nothing from the checker.

pub mod backoff;
pub mod cli;
pub mod echo;
pub mod errors;
pub mod narrate;
pub mod net;
pub mod pool;
pub mod shutdown;
