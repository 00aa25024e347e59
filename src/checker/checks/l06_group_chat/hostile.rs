//! Lesson 06's checks that a hostile client cannot take the room over — not its members'
//! terminals, not a name that looks like someone else's — and that running out of descriptors
//! does not end the room: `lessons/06_group_chat.md#what-the-room-lets-through`.

use super::*;
use crate::checker::checks::common::{MOST_BUSY, WATCH};

/// What a line on someone's terminal may not hold: a control character (C0 but the line's own
/// `\n`, DEL, C1) or a bidirectional control. `None` when the line is clean; otherwise a
/// description of the first offender.
pub fn terminal_danger(line: &str) -> Option<String> {
    line.chars()
        .find(|&c| {
            c.is_control()
                || matches!(
                    c,
                    '\u{061c}'
                        | '\u{200e}'
                        | '\u{200f}'
                        | '\u{202a}'..='\u{202e}'
                        | '\u{2066}'..='\u{2069}'
                )
        })
        .map(|c| format!("U+{:04X}", u32::from(c)))
}

/// Whether the printable ASCII of `sent` still shows in `shown`, in order: a control replaced
/// by a visible stand-in (`^[`, `�`) keeps the rest of the text; a line dropped does not.
fn keeps_printable(sent: &str, shown: &str) -> bool {
    let mut rest = shown.chars();
    sent.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .all(|wanted| rest.any(|c| c == wanted))
}

/// What a client may try to send to everyone's terminal: each is relayed, but only in a form
/// that cannot drive a terminal.
const HOSTILE_LINES: &[(&str, &str)] = &[
    (
        "clear the screen, home the cursor, forge a server line",
        "\x1b[2J\x1b[H\x1b[2K\r* server shutting down",
    ),
    (
        "a carriage return to overwrite its own name",
        "\r[ana] I owe ben 100 euros",
    ),
    (
        "OSC 0: set the window title",
        "\x1b]0;you have been hacked\x07title",
    ),
    (
        "OSC 52: write the clipboard",
        "\x1b]52;c;cm0gLXJmIH4=\x07clipboard",
    ),
    ("an 8-bit CSI (C1 U+009B)", "\u{9b}2Jc1"),
    ("a right-to-left override", "\u{202e}txt.exe"),
    ("a tab, a bell and DEL", "a\tb\x07c\x7fd"),
];

pub fn server_relays_no_control_characters(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b] = room::<2>(&server)?;
    let prefix = format!("[{}] ", a.name);
    for (what, text) in HOSTILE_LINES {
        a.say(&server, text)?;
        let line = b
            .expect_prefix(&server, &prefix)
            .map_err(|f| f.context(format!("after A sent {what}")))?;
        let relayed = &line[prefix.len()..];
        if let Some(offender) = terminal_danger(&line) {
            return Err(b
                .mismatch(
                    &server,
                    &format!("{what}: relayed with {offender} in it, raw"),
                    line.clone().into_bytes(),
                )
                .sent(text.as_bytes().to_vec())
                .expected(
                    "control characters and bidirectional overrides replaced by something \
                     visible (`^[`, `�`), the rest of the line kept",
                ));
        }
        ensure(keeps_printable(text, relayed), || {
            b.mismatch(
                &server,
                &format!("{what}: the visible text of the line was lost"),
                line.clone().into_bytes(),
            )
            .sent(text.as_bytes().to_vec())
            .expected("the line, with its control characters replaced visibly")
        })?;
    }
    Ok(())
}

/// Names that print like `ana` (or like nothing at all), and each must be refused.
const LOOK_ALIKES: &[(&str, &str)] = &[
    ("ana and a zero-width space (U+200B)", "ana\u{200b}"),
    ("a right-to-left override (U+202E) and ana", "\u{202e}ana"),
    (
        "a Hangul filler (U+3164), which prints as nothing",
        "\u{3164}",
    ),
    (
        "a braille blank (U+2800), which prints as nothing",
        "\u{2800}",
    ),
    ("ana with a Cyrillic а (U+0430)", "\u{430}na"),
    ("ana with a Cyrillic о in it (U+043E)", "an\u{43e}"),
    ("ANA, in capitals", "ANA"),
];

/// Names that print like `bill` in some font: case, and `i`, `I`, `l`, `1` taken as one letter
/// (`O` and `0` are `ana`'s table's cousins; `|` cannot be in a name at all).
const LOOK_ALIKES_OF_BILL: &[&str] = &["BILL", "bIll", "b1ll", "bi1l", "BiLL", "bili", "b11I"];

pub fn server_refuses_look_alike_names(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b, mut c] = room::<3>(&server)?;
    let a_old = a.name.clone();
    a.say(&server, "/nick ana")?;
    for peer in [&mut a, &mut b, &mut c] {
        peer.expect(&server, &format!("* {a_old} is now ana"))?;
    }
    for (what, name) in LOOK_ALIKES {
        b.say(&server, &format!("/nick {name}"))?;
        b.expect_prefix(&server, "! ").map_err(|f| {
            f.context(format!("after `/nick` with {what}: it must be refused"))
                .sent(format!("/nick {name}\n").into_bytes())
        })?;
    }
    let c_old = c.name.clone();
    c.say(&server, "/nick bill")?;
    for peer in [&mut a, &mut b, &mut c] {
        peer.expect(&server, &format!("* {c_old} is now bill"))?;
    }
    for name in LOOK_ALIKES_OF_BILL {
        b.say(&server, &format!("/nick {name}"))?;
        b.expect_prefix(&server, "! ").map_err(|f| {
            f.context(format!(
                "after `/nick {name}` while `bill` is in the room: `i`, `I`, `l` and `1` look alike, so it must be refused"
            ))
            .sent(format!("/nick {name}\n").into_bytes())
        })?;
    }
    // No rename reached anyone else: C's next line is B's next message, under B's own name.
    b.say(&server, "still me")?;
    let name = b.name.clone();
    hear(&server, &name, "still me", &mut [&mut c])
}

pub fn server_names_cannot_squat(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b, mut c] = room::<3>(&server)?;
    // A current member's name, which is its address until it picks one; an address a client
    // connecting later would be named after; the same in other forms.
    let port = server.addr.port();
    let taken = [
        (a.name.clone(), "A's name (its address)"),
        (
            format!("127.0.0.1:{}", port.wrapping_add(1)),
            "the name a later client would get",
        ),
        (format!("[::1]:{port}"), "an IPv6 address"),
    ];
    for (name, what) in &taken {
        b.say(&server, &format!("/nick {name}"))?;
        b.expect_prefix(&server, "! ")
            .map_err(|f| f.context(format!("after `/nick {name}`, {what}: it must be refused")))?;
    }
    c.say(&server, "/nick Ben")?;
    let c_old = c.name.clone();
    for peer in [&mut a, &mut b, &mut c] {
        peer.expect(&server, &format!("* {c_old} is now Ben"))?;
    }
    b.say(&server, "/nick ben")?;
    b.expect_prefix(&server, "! ").map_err(|f| {
        f.context("after `/nick ben` while Ben is in the room: names are unique regardless of case")
    })?;
    b.say(&server, "/who")?;
    let line = b.expect_prefix(&server, "* online: ")?;
    let names: Vec<&str> = line["* online: ".len()..].split(", ").collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    ensure(unique.len() == names.len() && names.len() == 3, || {
        b.mismatch(
            &server,
            "`/who` does not list three different names",
            line.clone().into_bytes(),
        )
    })?;
    b.say(&server, "sync")?;
    let name = b.name.clone();
    hear(&server, &name, "sync", &mut [&mut a])
}

pub fn client_prints_no_control_characters(target: &Target) -> Outcome {
    let hostile: String = HOSTILE_LINES
        .iter()
        .map(|(_, text)| format!("[mallory] {text}\n"))
        .collect();
    let sent = format!("* welcome someone, 2 online\n{hostile}{SHUTTING_DOWN}\n");
    let finished = super::client::client_hearing(target, sent.clone())?;
    // Whether the client exits when the server closes is `client_exits_when_server_closes`'s
    // to check: this one looks only at what it printed.
    let printed = finished.stdout_text();
    for line in printed.lines() {
        if let Some(offender) = terminal_danger(line) {
            return Err(finished
                .failure(format!(
                    "the client printed {offender} raw, which a terminal obeys"
                ))
                .sent(sent.into_bytes())
                .expected("each line printed with its control characters replaced visibly"));
        }
    }
    ensure(
        printed.lines().count() == sent.lines().count() && keeps_printable(&sent, &printed),
        || {
            finished
                .failure("the client did not print every line the server sent")
                .sent(sent.clone().into_bytes())
        },
    )
}

/// The descriptor limit [`server_survives_running_out_of_descriptors`] gives the server, and how
/// many clients then connect (the room's default `--max-clients` is 100: the limit bites first).
const FD_LIMIT: u64 = 64;
const FD_CLIENTS: usize = 70;
/// The first clients to leave, freeing descriptors for those waiting in the backlog.
const FD_LEAVING: usize = 20;

/// Under `ulimit -n 64`, 70 clients connect: the server runs out of descriptors and `accept()`
/// fails with EMFILE while the last ones wait in the backlog. The room must not shut down, the
/// server must not spin, and when 20 clients leave, every waiting one must be welcomed (within
/// [`IO_TIMEOUT`] plus a backoff's second); then a newcomer too.
pub fn server_survives_running_out_of_descriptors(target: &Target) -> Outcome {
    let server = Server::start_with_open_files(target, &["server", "--port", "0", "-q"], FD_LIMIT)?;
    let mut peers = Vec::with_capacity(FD_CLIENTS);
    for n in 1..=FD_CLIENTS {
        peers.push(Peer::connect(
            &server,
            format!("client {n} of {FD_CLIENTS}"),
            None,
        )?);
    }
    let welcome = "* welcome ";
    peers[0].expect_prefix(&server, welcome)?;
    let busy = server.process.busy_share(WATCH);
    if let Some(busy) = busy.filter(|&share| share > MOST_BUSY) {
        return Err(server
            .failure(format!(
                "while out of descriptors the server was running in {:.0}% of {} ms",
                busy * 100.0,
                WATCH.as_millis()
            ))
            .expected("a server that waits before calling accept() again (10 ms doubling to 1 s), not one that spins"));
    }
    let waiting = peers.split_off(FD_LEAVING);
    drop(peers); // 20 clients leave: 20 descriptors come free
    for mut peer in waiting {
        peer.read_timeout(IO_TIMEOUT + Duration::from_secs(1))?;
        peer.expect_prefix(&server, welcome).map_err(|f| {
            f.context(format!(
                "under `ulimit -n {FD_LIMIT}`, after {FD_LEAVING} clients left: a server out of \
                 descriptors must accept again when they come free, and keep the room open"
            ))
        })?;
    }
    let mut newcomer = Peer::connect(&server, "a newcomer", None)?;
    newcomer.expect_prefix(&server, welcome).map(|_| ())
}
