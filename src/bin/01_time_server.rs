//! `cargo run --bin 01_time_server` — lesson 01. Its code is `src/lessons/l01_time_server/`: start with `server.rs`.
fn main() -> std::process::ExitCode {
    workbook::lessons::l01_time_server::cli::main()
}
