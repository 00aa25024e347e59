//! `cargo run --bin 03_udp` — lesson 03. Its code is `src/lessons/l03_udp/`: start with `server.rs`.
fn main() -> std::process::ExitCode {
    workbook::lessons::l03_udp::cli::main()
}
