//! What a chat room lets through (lesson 06 teaches it; 07 serves the same room): text that
//! cannot drive a terminal, and names that cannot impersonate. A chat server relays one person's
//! bytes to everyone else's screen, so it decides what reaches those screens — the page,
//! `lessons/06_group_chat.md#what-the-room-lets-through`, explains both rules.

use std::borrow::Cow;

/// The longest name, in characters.
pub const MAX_NAME: usize = 32;

// ANCHOR: visible
/// `text` with every character that could drive a terminal replaced by a visible stand-in:
///
/// - C0 controls and DEL in caret notation: ESC → `^[`, CR → `^M`, TAB → `^I`, DEL → `^?` — so
///   `\x1b[2J` (clear screen) arrives as the harmless text `^[[2J`, and `\r` cannot move the
///   cursor back to forge the start of a line;
/// - C1 controls (U+0080–U+009F, which some terminals obey as ESC sequences) and the
///   bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C, which reorder
///   what follows them on screen) as U+FFFD `�`.
///
/// Everything else, other scripts and emoji included, passes unchanged.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_replacing) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\0'..='\x1f' => {
                shown.push('^');
                shown.push(char::from(c as u8 ^ 0x40));
            }
            '\x7f' => shown.push_str("^?"),
            c if needs_replacing(c) => shown.push('\u{fffd}'),
            c => shown.push(c),
        }
    }
    Cow::Owned(shown)
}

/// Whether [`visible`] replaces `c`.
fn needs_replacing(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// The characters that change the direction of the text after them.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}
// ANCHOR_END: visible

// ANCHOR: names
/// Check a name asked for with `/nick`: 1 to [`MAX_NAME`] ASCII characters, a letter first,
/// then letters, digits, `-`, `_` and `.`.
///
/// ASCII only, because every other choice needs Unicode's confusables tables to be safe: with
/// letters from every script allowed, Cyrillic `а` passes for Latin `a`, and U+200B (zero-width
/// space), U+3164 (Hangul filler) and U+2800 (braille blank) print as nothing at all. A letter
/// first, and no `:`, so a name can never look like the address a client is named after until
/// it picks a name (`127.0.0.1:45701`).
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_allowed = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if starts_with_letter && rest_allowed && name.len() <= MAX_NAME {
        Ok(())
    } else {
        Err(format!(
            "! a name is 1 to {MAX_NAME} ASCII letters, digits, '-', '_' or '.', starting with a letter"
        ))
    }
}

/// What a name looks like, for "is this name taken": case does not count, and neither do the
/// ASCII characters a screen font can show alike ([`LOOK_ALIKES`]: `i`, `I`, `l`, `L`, `1` are
/// one letter; `o`, `O`, `0` another). Two names with the same key cannot both be in the room.
pub fn look_alike_key(name: &str) -> String {
    name.chars()
        .map(|c| {
            let lower = c.to_ascii_lowercase();
            LOOK_ALIKES
                .iter()
                .find(|class| class.contains(lower))
                .and_then(|class| class.chars().next())
                .unwrap_or(lower)
        })
        .collect()
}

/// The ASCII characters a name may hold that a font can draw alike, one class a string (in
/// lower case; the first is the class's key). `|` looks like `l` too, but cannot be in a name.
pub const LOOK_ALIKES: &[&str] = &["li1", "o0"];
// ANCHOR_END: names

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_and_text_stays() {
        assert_eq!(visible("hello, wörld 👋"), "hello, wörld 👋");
        assert_eq!(
            visible("\x1b[2J\x1b[H\r* server shutting down"),
            "^[[2J^[[H^M* server shutting down"
        );
        assert_eq!(visible("a\tb\x7f\u{9b}c"), "a^Ib^?\u{fffd}c");
        assert_eq!(visible("\u{202e}evil"), "\u{fffd}evil");
        assert_eq!(visible("\x1b]52;c;aGk=\x07"), "^[]52;c;aGk=^G");
    }

    #[test]
    fn names_are_ascii_and_start_with_a_letter() {
        for good in ["ana", "Ben_2", "chen.li", "d-x"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "ana\u{200b}",
            "\u{202e}ana",
            "\u{3164}",
            "\u{2800}",
            "аna", // Cyrillic а
            "127.0.0.1:45701",
            "[::1]:45701",
            "two words",
            "_ana",
            &"a".repeat(MAX_NAME + 1),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn look_alike_names_share_a_key() {
        assert_eq!(look_alike_key("Ana"), look_alike_key("ana"));
        assert_eq!(look_alike_key("BOB"), look_alike_key("b0b"));
        assert_eq!(look_alike_key("Il"), look_alike_key("ll"));
        assert_eq!(look_alike_key("al1"), look_alike_key("all"));
        assert_eq!(look_alike_key("bill"), look_alike_key("bIll"));
        assert_eq!(look_alike_key("bill"), look_alike_key("b1ll"));
        assert_eq!(look_alike_key("bill"), look_alike_key("BILL"));
        assert_ne!(look_alike_key("bill"), look_alike_key("ball"));
    }

    #[test]
    fn every_pair_in_the_look_alike_table_shares_a_key() {
        // The whole table, both cases: any two members of a class make the same name.
        for class in LOOK_ALIKES {
            let members: Vec<char> = class
                .chars()
                .flat_map(|c| [c, c.to_ascii_uppercase()])
                .collect();
            for &a in &members {
                for &b in &members {
                    let (x, y) = (format!("x{a}y"), format!("x{b}y"));
                    assert_eq!(look_alike_key(&x), look_alike_key(&y), "{x} and {y}");
                }
            }
        }
        // And two different classes never share one.
        assert_ne!(look_alike_key("xly"), look_alike_key("xoy"));
    }
}
