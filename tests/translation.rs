//! The Chinese edition's translation (`book/po/zh-CN.po`, made with mdbook-i18n-helpers) keeps
//! what a reader copies or follows exactly as the English has it. Code blocks are never messages
//! (book/i18n-skip-code), so listings, commands and output are the English book's; within a
//! translated message:
//! - every code span is the English one (commands, flags, `error: …` lines, names);
//! - every link goes where the English link goes (links to the glossary may be added);
//! - a translated heading keeps the English heading's id (`{#…}`), so every link to it works;
//! - nothing is fuzzy or empty.
//!
//! That every English message has a translation is `.ci/run`'s step (it needs mdbook-xgettext to
//! extract the messages of today's English).

use polib::catalog::Catalog;
use std::path::Path;

const PO: &str = "book/po/zh-CN.po";

/// Code spans, link targets and HTML tags of a Markdown message, in order of appearance sorted.
fn kept(text: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut code = Vec::new();
    let mut rest = String::new();
    let mut chars = text;
    while let Some(start) = chars.find('`') {
        rest.push_str(&chars[..start]);
        let ticks = chars[start..].chars().take_while(|&c| c == '`').count();
        let fence = "`".repeat(ticks);
        let after = &chars[start + ticks..];
        match after.find(&fence) {
            Some(end) => {
                code.push(after[..end].to_string());
                chars = &after[end + ticks..];
            }
            None => {
                rest.push_str(&chars[start..]);
                chars = "";
            }
        }
    }
    rest.push_str(chars);
    let links = rest
        .match_indices("](")
        .filter_map(|(at, _)| rest[at + 2..].split([')', ' ']).next())
        .filter(|target| !target.contains("glossary.md"))
        .map(str::to_string)
        .collect();
    let tags = rest
        .match_indices('<')
        .filter_map(|(at, _)| rest[at..].split_once('>').map(|(tag, _)| format!("{tag}>")))
        .filter(|tag| !tag.contains(' ') || tag.starts_with("<a ") || tag.starts_with("<span "))
        .collect();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    (sorted(code), sorted(links), sorted(tags))
}

fn catalog() -> Catalog {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(PO);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{PO}: {e}"));
    // An empty comment line (`#`, as Python's polib writes before the header) is valid gettext
    // that polib's parser does not take.
    let text: String = text
        .lines()
        .filter(|line| *line != "#")
        .map(|line| format!("{line}\n"))
        .collect();
    polib::po_file::parse_from_reader(text.as_bytes()).unwrap_or_else(|e| panic!("{PO}: {e}"))
}

#[test]
fn every_message_keeps_its_code_links_and_tags() {
    let catalog = catalog();
    let mut problems = Vec::new();
    let mut count = 0;
    for message in catalog.messages() {
        let (english, chinese) = (message.msgid(), message.msgstr().unwrap_or_default());
        count += 1;
        if message.is_fuzzy() || chinese.trim().is_empty() {
            problems.push(format!("not translated (empty or fuzzy): {english:?}"));
            continue;
        }
        let (code, links, tags) = kept(english);
        let (zh_code, zh_links, zh_tags) = kept(chinese);
        if code != zh_code {
            problems.push(format!("code spans differ: {english:?}\n  → {chinese:?}"));
        }
        if links != zh_links {
            problems.push(format!("link targets differ: {english:?}\n  → {chinese:?}"));
        }
        if tags != zh_tags {
            problems.push(format!("HTML tags differ: {english:?}\n  → {chinese:?}"));
        }
    }
    // Guards against passing because nothing was read.
    assert!(count > 2000, "only {count} messages in {PO}");
    assert!(problems.is_empty(), "{}:\n{}", PO, problems.join("\n"));
}

#[test]
fn kept_finds_code_spans_links_and_tags() {
    // The rule above fails on what a translator might get wrong.
    let english = "Run `nc -N 127.0.0.1 7002` (see [calls](calls.md#accept)) <br/>";
    assert_eq!(
        kept(english),
        kept("运行 `nc -N 127.0.0.1 7002`（见[调用](calls.md#accept)）<br/>")
    );
    assert_ne!(
        kept(english).0,
        kept("运行 `nc 127.0.0.1 7002`（见[调用](calls.md#accept)）<br/>").0
    );
    assert_ne!(
        kept(english).1,
        kept("运行 `nc -N 127.0.0.1 7002`（见[调用](calls.md)）<br/>").1
    );
    assert_ne!(
        kept(english).2,
        kept("运行 `nc -N 127.0.0.1 7002`（见[调用](calls.md#accept)）").2
    );
    // A link to the glossary is the translation's own.
    assert_eq!(kept("a socket").1, kept("一个[套接字](glossary.md)").1);
    // Double backticks hold a backtick.
    assert_eq!(kept("`` a `b` ``").0, vec![" a `b` ".to_string()]);
}

/// The commands of a README's console blocks (`$ …`, without a trailing `# comment`), in order.
fn commands(text: &str) -> Vec<String> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            inside = !inside && line.len() > 3;
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ").filter(|_| inside) {
            let command = command.split("  #").next().unwrap_or(command);
            out.push(command.trim_end().to_string());
        }
    }
    out
}

#[test]
fn the_chinese_readme_gives_the_same_commands_and_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |name: &str| std::fs::read_to_string(root.join(name)).expect(name);
    let (english, chinese) = (read("README.md"), read("README.zh-CN.md"));
    assert!(
        commands(&english).len() >= 10,
        "the README's commands were not found"
    );
    assert_eq!(
        commands(&chinese),
        commands(&english),
        "README.zh-CN.md must give README.md's commands, in the same order"
    );
    // Every code span too (flags, paths, `cargo run …`), apart from the lines that link the two.
    let spans = |text: &str| {
        let mut fenced = false;
        let prose: Vec<&str> = (text.lines().skip(3))
            .filter(|line| {
                fenced ^= line.starts_with("```");
                !fenced && !line.starts_with("```")
            })
            .collect();
        kept(&prose.join("\n")).0
    };
    assert_eq!(
        spans(&chinese),
        spans(&english),
        "README.zh-CN.md's code spans"
    );
}
