//! `cargo run --bin 04_threaded` — lesson 04. Its code is `src/lessons/l04_threaded/`: start with `server.rs`.
fn main() -> std::process::ExitCode {
    workbook::lessons::l04_threaded::cli::main()
}
