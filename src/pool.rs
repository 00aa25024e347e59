//! A fixed-size thread pool (lesson 05; reused by 06). Being written.
