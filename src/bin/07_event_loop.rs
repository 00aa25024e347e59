//! `cargo run --bin 07_event_loop` — lesson 07. Its code is `src/lessons/l07_event_loop/`: start with `server.rs`.
fn main() -> std::process::ExitCode {
    workbook::lessons::l07_event_loop::cli::main()
}
