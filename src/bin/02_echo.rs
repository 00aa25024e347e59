//! `cargo run --bin 02_echo` — lesson 02. Its code is `src/lessons/l02_echo/`: start with `server.rs`.
fn main() -> std::process::ExitCode {
    workbook::lessons::l02_echo::cli::main()
}
