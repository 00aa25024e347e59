//! `cargo run --bin 05_thread_pool` — lesson 05. Its code is `src/lessons/l05_thread_pool/`: start with `server.rs`.
fn main() -> std::process::ExitCode {
    workbook::lessons::l05_thread_pool::cli::main()
}
