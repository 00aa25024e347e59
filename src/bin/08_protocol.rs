//! `cargo run --bin 08_protocol` — lesson 08. Its code is `src/lessons/l08_protocol/`: start with `server.rs`.
fn main() -> std::process::ExitCode {
    workbook::lessons::l08_protocol::cli::main()
}
