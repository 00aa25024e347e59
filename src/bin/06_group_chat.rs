//! `cargo run --bin 06_group_chat` — lesson 06. Its code is `src/lessons/l06_group_chat/`: start with `server.rs`.
fn main() -> std::process::ExitCode {
    workbook::lessons::l06_group_chat::cli::main()
}
