//! What a program printed (and a folder's name), made safe to show: every report — the text
//! scorecards and class tables, JSON, CSV, JUnit, HTML — takes its text from the [`Report`],
//! and the report holds only text cleaned here. So no control character (C0, DEL, C1, hence no
//! ESC/CSI/OSC sequence, no `\r`), no Unicode bidi override or other invisible format character
//! reaches the teacher's terminal or spreadsheet from a student's program.
//!
//! - [`clean`]: control and format characters escaped (`\x1b`, `\r`, `\u{202e}`);
//! - [`line_start`]: also a verdict mark (`✓ ✗ ·`) that would begin a line escaped, for text
//!   that begins a line of a scorecard (a failure's reason, a scorecard's problem);
//! - [`name`]: a student's name as the text reports show it, quoted when it holds spaces or
//!   marks, so a folder's name cannot draw a row of the class table;
//! - [`csv_cell`]: a CSV cell that a spreadsheet will not read as a formula;
//! - [`html`]: text for an HTML page.
//!
//! [`Report`]: super::Report

use std::fmt::Write as _;

/// The verdict marks of a scorecard ([`Status::mark`](super::Status::mark)).
const MARKS: [char; 3] = ['✓', '✗', '·'];

/// Whether `c` is invisible or changes how the text around it is shown: a control character
/// (C0, DEL, C1), a line or paragraph separator, or a format character (Unicode category Cf:
/// bidi embeddings, overrides and isolates, zero-width characters, the soft hyphen, tags…).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}')
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `text` with every control and format character ([`is_unsafe`]) escaped as Rust writes it
/// (`\x1b`, `\r`, `\n`, `\u{202e}`): one line, shown as it is, whatever the program printed.
pub fn clean(text: &str) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// [`clean`], and a verdict mark that would begin the line (after spaces) escaped too: for text
/// that starts a line of a scorecard, which then cannot pass for a check's verdict.
pub fn line_start(text: &str) -> String {
    let text = clean(text);
    let body = text.trim_start();
    match body.chars().next() {
        Some(mark) if MARKS.contains(&mark) => {
            let mut out = text[..text.len() - body.len()].to_string();
            let _ = write!(out, "\\u{{{:x}}}", mark as u32);
            out.push_str(&body[mark.len_utf8()..]);
            out
        }
        _ => text,
    }
}

/// A student's (folder's) name as the text reports show it: as it is when it is one plain word,
/// else quoted with its marks escaped (`"ana  \u{2713} \u{2713}"`), so that no name can look
/// like a row of the class table or a verdict.
pub fn name(student: &str) -> String {
    let student = clean(student);
    let plain = !student.is_empty()
        && student
            .chars()
            .all(|c| !c.is_whitespace() && !MARKS.contains(&c) && c != '"' && c != '|');
    if plain {
        return student;
    }
    let mut out = String::from("\"");
    for c in student.chars() {
        if MARKS.contains(&c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else if c == '"' {
            out.push_str("\\\"");
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// A CSV cell a spreadsheet shows as text: one that starts with `=`, `+`, `-`, `@`, a tab or a
/// carriage return (a formula to Excel, LibreOffice and Google Sheets) gets a leading `'`
/// (OWASP's advice on CSV injection).
pub fn csv_cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

/// `text` for HTML, in an element or a quoted attribute: `& < > " '` as entities, and control and
/// format characters escaped as [`clean`] does.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in clean(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
/// What a hostile program prints: colour, a redrawn line, a window title, a clipboard
/// write, cursor movement, a C1 CSI, a bidi override, zero-width and tag characters.
pub(crate) const HOSTILE: &str = "\x1b[32m✓ ok\x1b[0m\r✓ server_echoes_bytes  3/3\x1b]0;all checks passed\x07\x1b]52;c;cm0gLXJm\x07\x1b[2A\x1b[K\u{9b}31m\u{202e}evil\u{2066}\u{200b}\u{feff}\u{e0041}\u{2028}\x7f";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_unsafe_is_left() {
        let shown = clean(HOSTILE);
        assert!(!shown.chars().any(is_unsafe), "{shown:?}");
        for escaped in [
            "\\x1b[32m",
            "\\r",
            "\\x07",
            "\\u{9b}",
            "\\u{202e}",
            "\\u{2066}",
            "\\u{200b}",
            "\\u{feff}",
            "\\u{e0041}",
            "\\u{2028}",
            "\\x7f",
        ] {
            assert!(shown.contains(escaped), "{escaped} missing from {shown}");
        }
        assert_eq!(clean("plain text, é 字 ✓"), "plain text, é 字 ✓");
    }

    #[test]
    fn no_line_starts_with_a_verdict() {
        assert_eq!(
            line_start("✓ server_echoes_bytes 3/3"),
            "\\u{2713} server_echoes_bytes 3/3"
        );
        assert_eq!(line_start("  ✗ x"), "  \\u{2717} x");
        assert_eq!(line_start("\r✓ x"), "\\r✓ x");
        assert_eq!(line_start("the echo ✓"), "the echo ✓");
    }

    #[test]
    fn names_with_spaces_or_marks_are_quoted() {
        assert_eq!(name("ana"), "ana");
        assert_eq!(name("José_2"), "José_2");
        assert_eq!(
            name("ana      ✓ ✓   30/30"),
            "\"ana      \\u{2713} \\u{2713}   30/30\""
        );
        assert_eq!(name("a\rb"), "a\\rb");
        assert_eq!(name(""), "\"\"");
    }

    #[test]
    fn csv_cells_are_not_formulas() {
        for formula in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1",
            "-1+2",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(csv_cell(formula), format!("'{formula}"));
        }
        assert_eq!(csv_cell("b\"=x\""), "b\"=x\"");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html("<script>alert('x')</script> & \"\x1b[2J"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;\\x1b[2J"
        );
    }
}
