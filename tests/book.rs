//! The book keeps itself honest: `cargo test --test book`, without mdBook.
//!
//! mdBook builds whatever it is given — a missing anchor becomes an empty listing, a link to a
//! page that was renamed becomes a 404 — so these checks read `book/src` the way mdBook does and
//! fail on what it would let through:
//!
//! 1. **Pages.** Every page named in `SUMMARY.md` exists, and every page in `book/src` is named
//!    there (a page that is not in the summary is never built).
//! 2. **Includes.** Every include directive names a file that exists. A part of a file is chosen
//!    by an anchor that exists in it (`// ANCHOR: name` … `// ANCHOR_END: name`, once, closed,
//!    not empty) — never by line numbers, which drift as soon as the file changes.
//! 3. **Code blocks.** No Rust is typed into the book by hand. Every fence names its language
//!    (an unnamed fence counts as Rust for `mdbook test`). A `rust` block is marked `ignore`
//!    (listings are fragments: `cargo build` compiles them, the playground cannot) and holds
//!    either only include directives, or a short sketch whose first line is a comment starting
//!    `// not compiled` and which has at most [`SKETCH_LINES`] lines. Shapes of calls belong in
//!    `text` blocks.
//! 4. **Links.** Every relative link resolves to a file inside `book/src` (the built site holds
//!    nothing else); a link to a page names a page of the summary; a `#fragment` names a heading
//!    of that page. Links in included lesson pages are resolved from the chapter that includes
//!    them — where they end up.
//! 5. **Lessons.** Every workbook page `lessons/NAME.md` is included by its chapter
//!    `book/src/lessons/NAME.md` (same name, so links between lesson pages work in both
//!    places), and every anchor of a lesson binary `src/bin/NN_name.rs` is shown in its chapter.
//!
//! Each check is a function of a [`Files`] tree, so the unit tests at the bottom run it against
//! small books held in memory, each with one defect, and see it fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// The book's sources, relative to the repository.
const SRC: &str = "book/src";
/// The longest hand-typed Rust sketch allowed, in non-blank lines.
const SKETCH_LINES: usize = 12;
/// The first line that marks a hand-typed Rust block as a sketch.
const SKETCH_MARK: &str = "// not compiled";
/// How deep includes may nest (mdBook stops at 10 too).
const MAX_DEPTH: usize = 10;

// ---------------------------------------------------------------------------------------------
// Files: the repository on disk, or a book in memory.

/// Read access to a tree of files; every path is relative to the repository root.
trait Files {
    fn read(&self, path: &Path) -> Option<String>;
    /// Every file under `dir`, recursively.
    fn list(&self, dir: &Path) -> Vec<PathBuf>;
    fn is_file(&self, path: &Path) -> bool {
        self.read(path).is_some()
    }
}

/// The repository this test was built from.
struct Disk {
    root: PathBuf,
}

impl Disk {
    fn repo() -> Disk {
        Disk {
            root: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        }
    }
}

impl Files for Disk {
    fn read(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(self.root.join(path)).ok()
    }

    fn list(&self, dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(dir) = todo.pop() {
            let Ok(entries) = std::fs::read_dir(self.root.join(&dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = dir.join(entry.file_name());
                match entry.file_type() {
                    Ok(kind) if kind.is_dir() => todo.push(path),
                    Ok(_) => found.push(path),
                    Err(_) => {}
                }
            }
        }
        found.sort();
        found
    }

    fn is_file(&self, path: &Path) -> bool {
        self.root.join(path).is_file()
    }
}

/// A tree of files in memory, for the unit tests.
#[derive(Clone, Default)]
struct Memory(BTreeMap<PathBuf, String>);

impl Memory {
    fn with(mut self, path: &str, text: &str) -> Memory {
        self.0.insert(PathBuf::from(path), text.to_string());
        self
    }

    fn without(mut self, path: &str) -> Memory {
        self.0.remove(Path::new(path));
        self
    }
}

impl Files for Memory {
    fn read(&self, path: &Path) -> Option<String> {
        self.0.get(path).cloned()
    }

    fn list(&self, dir: &Path) -> Vec<PathBuf> {
        self.0
            .keys()
            .filter(|p| p.starts_with(dir))
            .cloned()
            .collect()
    }
}

/// `a/b/../c` → `a/c`, without touching the disk. Going above the root keeps the `..`, so such a
/// path is visibly outside every directory of the repository.
fn normalize(path: &Path) -> PathBuf {
    let mut parts: Vec<Component> = Vec::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(parts.last(), Some(Component::Normal(_))) => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.iter().collect()
}

fn dir_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn show(path: &Path) -> String {
    path.display().to_string()
}

// ---------------------------------------------------------------------------------------------
// Markdown, as far as these checks need it.

/// A fenced code block: the line of its opening fence (1-based), its info string, its lines.
#[derive(Debug)]
struct Block {
    line: usize,
    info: String,
    body: Vec<String>,
    closed: bool,
}

/// An opening or closing fence: its character and length, and what follows it.
fn fence(line: &str) -> Option<(char, usize, &str)> {
    let trimmed = line.trim_start();
    let c = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = trimmed.chars().take_while(|x| *x == c).count();
    if n < 3 {
        return None;
    }
    let rest = &trimmed[n..];
    // A backtick fence's info string may not contain a backtick (that is inline code).
    if c == '`' && rest.contains('`') {
        return None;
    }
    Some((c, n, rest.trim()))
}

/// Every fenced code block of `text`.
fn code_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(char, usize, Block)> = None;
    for (i, line) in text.lines().enumerate() {
        match open.take() {
            None => {
                if let Some((c, n, info)) = fence(line) {
                    let block = Block {
                        line: i + 1,
                        info: info.to_string(),
                        body: Vec::new(),
                        closed: false,
                    };
                    open = Some((c, n, block));
                }
            }
            Some((c, n, mut block)) => match fence(line) {
                Some((c2, n2, rest)) if c2 == c && n2 >= n && rest.is_empty() => {
                    block.closed = true;
                    blocks.push(block);
                }
                _ => {
                    block.body.push(line.to_string());
                    open = Some((c, n, block));
                }
            },
        }
    }
    if let Some((_, _, block)) = open {
        blocks.push(block);
    }
    blocks
}

/// The lines of `text` that are not inside a fenced code block, with their 1-based numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut open: Option<(char, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        match (open, fence(line)) {
            (None, Some((c, n, _))) => open = Some((c, n)),
            (None, None) => out.push((i + 1, line)),
            (Some((c, n)), Some((c2, n2, rest))) if c2 == c && n2 >= n && rest.is_empty() => {
                open = None;
            }
            (Some(_), _) => {}
        }
    }
    out
}

/// `line` with its inline code spans blanked out, so that links inside them are not links.
fn without_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let n = chars[i..].iter().take_while(|c| **c == '`').count();
        // Find a closing run of exactly n backticks.
        let mut j = i + n;
        let mut close = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let m = chars[j..].iter().take_while(|c| **c == '`').count();
                if m == n {
                    close = Some(j);
                    break;
                }
                j += m;
            } else {
                j += 1;
            }
        }
        match close {
            Some(j) => {
                out.extend(std::iter::repeat_n(' ', j + n - i));
                i = j + n;
            }
            None => {
                out.extend(&chars[i..i + n]);
                i += n;
            }
        }
    }
    out
}

/// The targets of every link in `text` outside code: inline links and images `[text](target)`,
/// reference definitions `[label]: target`, and HTML `href="…"` / `src="…"`.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in prose_lines(text) {
        let line = without_code_spans(line);
        let trimmed = line.trim_start();
        // A reference definition, `[label]: target` (but not a footnote, `[^1]: text`).
        let definition = trimmed
            .strip_prefix('[')
            .filter(|rest| !rest.starts_with('^'))
            .and_then(|rest| rest.find("]:").map(|end| &rest[end + 2..]));
        if let Some(rest) = definition {
            if let Some(target) = rest.split_whitespace().next() {
                found.push((number, target.trim_matches(['<', '>']).to_string()));
            }
            continue;
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let target: String = if let Some(inner) = after.strip_prefix('<') {
                inner.chars().take_while(|c| *c != '>').collect()
            } else {
                after
                    .chars()
                    .take_while(|c| *c != ')' && !c.is_whitespace())
                    .collect()
            };
            found.push((number, target));
            rest = after;
        }
        for attribute in ["href=\"", "src=\""] {
            let mut rest = line.as_str();
            while let Some(at) = rest.find(attribute) {
                let after = &rest[at + attribute.len()..];
                let target: String = after.chars().take_while(|c| *c != '"').collect();
                found.push((number, target));
                rest = after;
            }
        }
    }
    found
}

/// The id mdBook gives a heading with this text: lower case; letters, digits, `_` and `-` kept;
/// white space becomes `-`; everything else dropped.
fn heading_id(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c)
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// A heading's Markdown reduced to its text: code spans' backticks, emphasis markers, link
/// targets and HTML tags removed.
fn heading_text(markdown: &str) -> String {
    let mut text = String::new();
    let mut chars = markdown.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' | '*' | '[' => {}
            // `](target)`: keep the link's text, drop its target.
            ']' => {
                if chars.peek() == Some(&'(') {
                    for c in chars.by_ref() {
                        if c == ')' {
                            break;
                        }
                    }
                }
            }
            '<' => {
                for c in chars.by_ref() {
                    if c == '>' {
                        break;
                    }
                }
            }
            _ => text.push(c),
        }
    }
    text
}

/// The ids of every heading of a (fully included) page, made unique as mdBook does (`-1`, `-2`).
fn heading_ids(text: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let trimmed = line.trim_start();
        if line.len() - trimmed.len() > 3 {
            continue;
        }
        let level = trimmed.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&level) {
            continue;
        }
        let rest = &trimmed[level..];
        if !(rest.is_empty() || rest.starts_with(' ')) {
            continue;
        }
        let mut content = rest.trim().trim_end_matches('#').trim_end().to_string();
        let id = match content.rfind("{#") {
            Some(at) if content.ends_with('}') => {
                let id = content[at + 2..content.len() - 1].to_string();
                content.truncate(at);
                id
            }
            _ => heading_id(&heading_text(&content)),
        };
        let mut unique = id.clone();
        let mut n = 0;
        while !ids.insert(unique.clone()) {
            n += 1;
            unique = format!("{id}-{n}");
        }
    }
    ids
}

// ---------------------------------------------------------------------------------------------
// Include directives.

/// An mdBook directive `{{#kind rest}}` that reads a file.
#[derive(Debug, Clone)]
struct Include {
    line: usize,
    /// The directive as written, for messages.
    written: String,
    path: String,
    /// What follows the first `:` of the path: an anchor name, or line numbers.
    selector: Option<String>,
}

/// The include directives of `text`, found as mdBook finds them: anywhere, even inside code,
/// except when escaped with a backslash.
fn includes(text: &str) -> Vec<Include> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("{{") {
        let start = from + at;
        from = start + 2;
        if text[..start].ends_with('\\') {
            continue;
        }
        let Some(len) = text[start..].find("}}") else {
            break;
        };
        let inner = &text[start + 2..start + len];
        let Some(directive) = inner.trim_start().strip_prefix('#') else {
            continue;
        };
        let kind: String = directive
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !matches!(kind.as_str(), "include" | "rustdoc_include" | "playground") {
            continue;
        }
        let Some(target) = directive[kind.len()..].split_whitespace().next() else {
            continue;
        };
        let (path, selector) = match target.split_once(':') {
            Some((path, selector)) => (path, Some(selector.to_string())),
            None => (target, None),
        };
        found.push(Include {
            line: text[..start].matches('\n').count() + 1,
            written: text[start..start + len + 2].to_string(),
            path: path.to_string(),
            selector,
        });
        from = start + len + 2;
    }
    found
}

/// The anchored part of `source` that an include of `name` shows, or why there is none.
fn anchored<'a>(source: &'a str, name: &str) -> Result<Vec<&'a str>, String> {
    let marker = |line: &str, tag: &str| -> Option<String> {
        let at = line.find(tag)?;
        let rest = line[at + tag.len()..].trim_start();
        let found: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        (!found.is_empty()).then_some(found)
    };
    let lines: Vec<&str> = source.lines().collect();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| marker(lines[i], "ANCHOR:").as_deref() == Some(name))
        .collect();
    let [start] = starts[..] else {
        return Err(if starts.is_empty() {
            format!("has no `ANCHOR: {name}`")
        } else {
            format!("has `ANCHOR: {name}` {} times", starts.len())
        });
    };
    let Some(end) = (start + 1..lines.len())
        .find(|&i| marker(lines[i], "ANCHOR_END:").as_deref() == Some(name))
    else {
        return Err(format!(
            "opens `ANCHOR: {name}` on line {} and never closes it with `ANCHOR_END: {name}`",
            start + 1
        ));
    };
    let body: Vec<&str> = lines[start + 1..end]
        .iter()
        .copied()
        .filter(|l| marker(l, "ANCHOR:").is_none() && marker(l, "ANCHOR_END:").is_none())
        .collect();
    if body.iter().all(|l| l.trim().is_empty()) {
        return Err(format!("has an empty `ANCHOR: {name}`"));
    }
    Ok(body)
}

/// The anchors `source` defines.
fn anchors_defined(source: &str) -> BTreeSet<String> {
    source
        .lines()
        .filter_map(|line| {
            let at = line.find("ANCHOR:")?;
            let name: String = line[at + 7..]
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// One Markdown file that ends up in a page: the page itself or a Markdown file it includes.
struct Part {
    file: PathBuf,
    text: String,
}

/// A page of the book with everything it includes: its Markdown parts, the text mdBook renders
/// (includes replaced), the files it includes, and what is wrong with its includes.
struct Page {
    path: PathBuf,
    parts: Vec<Part>,
    rendered: String,
    included: Vec<(PathBuf, Option<String>)>,
    problems: Vec<String>,
}

fn load_page(files: &dyn Files, path: &Path) -> Page {
    let mut page = Page {
        path: path.to_path_buf(),
        parts: Vec::new(),
        rendered: String::new(),
        included: Vec::new(),
        problems: Vec::new(),
    };
    match files.read(path) {
        Some(text) => page.rendered = expand(files, path, &text, 0, &mut page),
        None => page.problems.push(format!("{}: missing", show(path))),
    }
    page
}

/// Replace the include directives of `text` (the content of `file`) as mdBook does, recording
/// Markdown parts, included files and problems in `page`.
fn expand(files: &dyn Files, file: &Path, text: &str, depth: usize, page: &mut Page) -> String {
    page.parts.push(Part {
        file: file.to_path_buf(),
        text: text.to_string(),
    });
    let mut out = String::new();
    let mut rest = text;
    for include in includes(text) {
        let Some(at) = rest.find(&include.written) else {
            continue;
        };
        out.push_str(&rest[..at]);
        rest = &rest[at + include.written.len()..];
        let place = format!("{}:{}", show(file), include.line);
        let target = normalize(&dir_of(file).join(&include.path));
        page.included
            .push((target.clone(), include.selector.clone()));
        let Some(source) = files.read(&target) else {
            page.problems.push(format!(
                "{place}: `{}` names {}, which does not exist",
                include.written,
                show(&target)
            ));
            continue;
        };
        let shown = match include.selector.as_deref() {
            None | Some("") => source.clone(),
            Some(s) if s.starts_with(|c: char| c.is_ascii_digit()) => {
                page.problems.push(format!(
                    "{place}: `{}` selects lines by number; line numbers drift when the file \
                     changes: put `ANCHOR: name` … `ANCHOR_END: name` comments around the part \
                     and include `{}:name`",
                    include.written, include.path
                ));
                continue;
            }
            Some(name) => match anchored(&source, name) {
                Ok(lines) => lines.join("\n"),
                Err(why) => {
                    page.problems.push(format!(
                        "{place}: `{}`: {} {why}",
                        include.written,
                        show(&target)
                    ));
                    continue;
                }
            },
        };
        let is_markdown = has_extension(&target, "md");
        if is_markdown && depth < MAX_DEPTH {
            out.push_str(&expand(files, &target, &shown, depth + 1, page));
        } else if is_markdown {
            page.problems
                .push(format!("{place}: includes nest too deep (a cycle?)"));
        } else {
            out.push_str(&shown);
        }
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// The book.

/// The pages `SUMMARY.md` names, in order, with their line numbers.
fn summary_entries(summary: &str) -> Vec<(usize, String)> {
    links(summary)
        .into_iter()
        .filter(|(_, target)| !target.is_empty())
        .collect()
}

struct Book {
    pages: Vec<Page>,
    /// Pages named by the summary, as repository paths.
    listed: BTreeSet<PathBuf>,
    summary_problems: Vec<String>,
}

fn load_book(files: &dyn Files) -> Book {
    let src = Path::new(SRC);
    let summary_path = src.join("SUMMARY.md");
    let mut book = Book {
        pages: Vec::new(),
        listed: BTreeSet::new(),
        summary_problems: Vec::new(),
    };
    let Some(summary) = files.read(&summary_path) else {
        book.summary_problems
            .push(format!("{}: missing", show(&summary_path)));
        return book;
    };
    for (line, target) in summary_entries(&summary) {
        let path = normalize(&src.join(&target));
        if !path.starts_with(src) {
            book.summary_problems.push(format!(
                "{}:{line}: `{target}` is outside {SRC}",
                show(&summary_path)
            ));
        } else if !files.is_file(&path) {
            book.summary_problems.push(format!(
                "{}:{line}: `{target}` names a page that does not exist ({})",
                show(&summary_path),
                show(&path)
            ));
        } else if !book.listed.insert(path.clone()) {
            book.summary_problems.push(format!(
                "{}:{line}: `{target}` is listed twice",
                show(&summary_path)
            ));
        }
    }
    for file in files.list(src) {
        if has_extension(&file, "md") && file != summary_path && !book.listed.contains(&file) {
            book.summary_problems.push(format!(
                "{}: not in SUMMARY.md, so mdBook never builds it: add it, or delete it",
                show(&file)
            ));
        }
    }
    book.pages = book
        .listed
        .iter()
        .map(|path| load_page(files, path))
        .collect();
    book
}

fn summary_problems(files: &dyn Files) -> Vec<String> {
    load_book(files).summary_problems
}

fn include_problems(files: &dyn Files) -> Vec<String> {
    load_book(files)
        .pages
        .into_iter()
        .flat_map(|page| page.problems)
        .collect()
}

/// What is wrong with one fenced block, if anything (see the rules at the top of this file).
fn block_problem(block: &Block) -> Option<String> {
    if !block.closed {
        return Some("a code fence that is never closed".to_string());
    }
    let words: Vec<&str> = block
        .info
        .split([',', ' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect();
    let Some(language) = words.first() else {
        return Some(
            "a code fence without a language: name it (```text, ```console, ```rust,ignore, …); \
             mdbook test would compile an unnamed block as Rust"
                .to_string(),
        );
    };
    if !matches!(*language, "rust" | "rs") {
        return None;
    }
    if !words.contains(&"ignore") {
        return Some(
            "a ```rust block not marked `ignore`: write ```rust,ignore — listings are fragments \
             that cargo build compiles, not programs the playground can run"
                .to_string(),
        );
    }
    let lines: Vec<&str> = block
        .body
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    let is_include = |l: &&str| !includes(l).is_empty();
    if !lines.is_empty() && lines.iter().all(is_include) {
        return None;
    }
    if lines.iter().any(is_include) {
        return Some(
            "a ```rust block mixes an include with hand-typed lines: put the whole listing \
             between anchors in the source"
                .to_string(),
        );
    }
    if !lines.first().is_some_and(|l| l.starts_with(SKETCH_MARK)) {
        return Some(format!(
            "hand-typed Rust: include it from the compiled source with an anchor \
             (`// ANCHOR: name`), or, for a short sketch that is not a program, make its first \
             line `{SKETCH_MARK}: …`"
        ));
    }
    if lines.len() > SKETCH_LINES {
        return Some(format!(
            "a sketch of {} lines; at most {SKETCH_LINES}: a listing that long belongs in a \
             compiled file, included by anchor",
            lines.len()
        ));
    }
    None
}

fn code_block_problems(files: &dyn Files) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for page in load_book(files).pages {
        for part in &page.parts {
            if !seen.insert(part.file.clone()) {
                continue;
            }
            for block in code_blocks(&part.text) {
                if let Some(problem) = block_problem(&block) {
                    problems.push(format!("{}:{}: {problem}", show(&part.file), block.line));
                }
            }
        }
    }
    problems
}

/// What is wrong with one link `target` on `page` (whose Markdown came from `file`).
fn link_problem(
    book: &Book,
    files: &dyn Files,
    page: &Page,
    file: &Path,
    target: &str,
) -> Option<String> {
    let is_external = target.starts_with("//")
        || target.split_once(':').is_some_and(|(scheme, _)| {
            scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        });
    if is_external {
        return None;
    }
    let (path, fragment) = match target.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (target, None),
    };
    let path = path.split('?').next().unwrap_or_default();
    let via = if file == page.path {
        String::new()
    } else {
        format!(" (in {}, included by this page)", show(file))
    };
    let resolved = if path.is_empty() {
        page.path.clone()
    } else {
        normalize(&dir_of(&page.path).join(path))
    };
    if !resolved.starts_with(SRC) {
        return Some(format!(
            "`{target}`{via} leads to {}, outside {SRC}: the built book holds only {SRC}; link \
             a page of the book, or write the path as code",
            show(&resolved)
        ));
    }
    if !files.is_file(&resolved) {
        return Some(format!(
            "`{target}`{via} leads to {}, which does not exist",
            show(&resolved)
        ));
    }
    let is_page = has_extension(&resolved, "md");
    if is_page && !book.listed.contains(&resolved) {
        return Some(format!(
            "`{target}`{via} leads to {}, which is not a page of SUMMARY.md and is never built",
            show(&resolved)
        ));
    }
    if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
        let ids = if resolved == page.path {
            heading_ids(&page.rendered)
        } else if is_page {
            book.pages
                .iter()
                .find(|p| p.path == resolved)
                .map(|p| heading_ids(&p.rendered))
                .unwrap_or_default()
        } else {
            return None;
        };
        if !ids.contains(fragment) {
            return Some(format!(
                "`{target}`{via}: {} has no heading with the id `{fragment}` (it has: {})",
                show(&resolved),
                ids.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    None
}

fn link_problems(files: &dyn Files) -> Vec<String> {
    let book = load_book(files);
    let mut problems = Vec::new();
    for page in &book.pages {
        for part in &page.parts {
            for (line, target) in links(&part.text) {
                if let Some(problem) = link_problem(&book, files, page, &part.file, &target) {
                    problems.push(format!("{}:{line}: {problem}", show(&part.file)));
                }
            }
        }
    }
    problems
}

fn has_extension(path: &Path, extension: &str) -> bool {
    path.extension().is_some_and(|e| e == extension)
}

/// A lesson's file name, `NN_name`, from `NN_name.ext`.
fn lesson_name(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let bytes = stem.as_bytes();
    let numbered = bytes.len() > 3
        && bytes[0].is_ascii_digit()
        && bytes[1].is_ascii_digit()
        && bytes[2] == b'_';
    numbered.then(|| stem.to_string())
}

fn lesson_problems(files: &dyn Files) -> Vec<String> {
    let book = load_book(files);
    let mut problems = Vec::new();
    let chapter = |name: &str| {
        let path = Path::new(SRC).join("lessons").join(format!("{name}.md"));
        book.pages.iter().find(|p| p.path == path)
    };
    for page in files.list(Path::new("lessons")) {
        // Every workbook page, numbered or not (`grading.md`); a README would become the
        // directory's index.html in the book and needs a decision of its own.
        let Some(name) = page
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| has_extension(&page, "md") && !s.eq_ignore_ascii_case("readme"))
            .map(str::to_string)
        else {
            continue;
        };
        let shown =
            chapter(&name).is_some_and(|c| c.included.iter().any(|(target, _)| *target == page));
        if !shown {
            problems.push(format!(
                "{} exists, but the book does not show it: make {SRC}/lessons/{name}.md (listed \
                 in SUMMARY.md) include it with `{{{{#include ../../../lessons/{name}.md}}}}`",
                show(&page)
            ));
        }
    }
    for binary in files.list(Path::new("src/bin")) {
        let Some(name) = lesson_name(&binary).filter(|_| has_extension(&binary, "rs")) else {
            continue;
        };
        let Some(source) = files.read(&binary) else {
            continue;
        };
        let shown: BTreeSet<String> = chapter(&name)
            .map(|c| {
                c.included
                    .iter()
                    .filter(|(target, _)| *target == binary)
                    .filter_map(|(_, anchor)| anchor.clone())
                    .collect()
            })
            .unwrap_or_default();
        for anchor in anchors_defined(&source) {
            if !shown.contains(&anchor) {
                problems.push(format!(
                    "{} marks `ANCHOR: {anchor}` for the book, but {SRC}/lessons/{name}.md does \
                     not show it: add ```rust,ignore with `{{{{#include \
                     ../../../src/bin/{name}.rs:{anchor}}}}}` to its code section",
                    show(&binary)
                ));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// The checks, on the real book.

fn assert_none(what: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

#[test]
fn every_page_in_the_summary_exists_and_every_page_is_in_it() {
    assert_none(
        "the summary and the pages disagree",
        summary_problems(&Disk::repo()),
    );
}

#[test]
fn every_include_names_a_file_and_an_anchor_that_exist() {
    assert_none("broken includes", include_problems(&Disk::repo()));
}

#[test]
fn no_rust_is_typed_into_the_book_by_hand() {
    assert_none(
        "code blocks break the rules",
        code_block_problems(&Disk::repo()),
    );
}

#[test]
fn every_relative_link_resolves() {
    assert_none("broken links", link_problems(&Disk::repo()));
}

#[test]
fn every_lesson_page_and_anchor_is_in_the_book() {
    assert_none(
        "lessons missing from the book",
        lesson_problems(&Disk::repo()),
    );
}

#[test]
fn the_checks_see_the_real_book() {
    // Guards against the checks passing because they read nothing.
    let book = load_book(&Disk::repo());
    assert!(
        book.pages.len() >= 10,
        "only {} pages found",
        book.pages.len()
    );
    let included: usize = book.pages.iter().map(|p| p.included.len()).sum();
    assert!(included >= 3, "only {included} includes found");
}

// ---------------------------------------------------------------------------------------------
// Each check can fail: a small book in memory, correct, then broken one way at a time.

/// A correct book: two pages, a lesson chapter that includes its workbook page and an anchored
/// part of its binary, links between them.
fn good() -> Memory {
    Memory::default()
        .with(
            "book/src/SUMMARY.md",
            "# Summary\n\n[Intro](intro.md)\n\n# Lessons\n\n- [One](lessons/01_one.md)\n",
        )
        .with(
            "book/src/intro.md",
            "# Intro\n\nSee [the code](lessons/01_one.md#the-code), [below](#the-setsockopt-call) \
             and [mdBook](https://rust-lang.github.io/mdBook/).\n\n## The `setsockopt()` call\n\n\
             ```text\nsetsockopt(SOL_SOCKET, SO_REUSEADDR, 1)\n```\n\n\
             ```rust,ignore\n// not compiled: the shape of a read loop\nloop { let n = read()?; }\n```\n\n\
             Escaped: \\{{#include nothing.rs}}\n",
        )
        .with(
            "book/src/lessons/01_one.md",
            "{{#include ../../../lessons/01_one.md}}\n\n## The code\n\n\
             ```rust,ignore\n{{#include ../../../src/bin/01_one.rs:serve}}\n```\n",
        )
        .with(
            "lessons/01_one.md",
            "# Lesson 01\n\nNext: [lesson 02](01_one.md). Back to [the intro](../intro.md).\n\n\
             ```console\n$ cargo run --bin 01_one\n```\n",
        )
        .with(
            "src/bin/01_one.rs",
            "fn main() {}\n// ANCHOR: serve\nfn serve() {}\n// ANCHOR_END: serve\n",
        )
}

/// One of the five checks.
type Check = fn(&dyn Files) -> Vec<String>;

/// Every check passes on `files`, except `failing`, which must report a problem containing
/// `expected`.
fn only_fails(files: &Memory, failing: &str, expected: &str) {
    let checks: [(&str, Check); 5] = [
        ("summary", summary_problems),
        ("includes", include_problems),
        ("code blocks", code_block_problems),
        ("links", link_problems),
        ("lessons", lesson_problems),
    ];
    for (name, check) in checks {
        let problems = check(files);
        if name == failing {
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "the {name} check should report `{expected}`, and reported: {problems:#?}"
            );
        } else {
            assert!(
                problems.is_empty(),
                "only the {failing} check should fail, but the {name} check reports: {problems:#?}"
            );
        }
    }
}

#[test]
fn a_correct_book_passes_every_check() {
    let files = good();
    assert_none("summary", summary_problems(&files));
    assert_none("includes", include_problems(&files));
    assert_none("code blocks", code_block_problems(&files));
    assert_none("links", link_problems(&files));
    assert_none("lessons", lesson_problems(&files));
}

#[test]
fn a_page_missing_from_disk_fails() {
    let files = good().with(
        "book/src/SUMMARY.md",
        "# Summary\n\n[Intro](intro.md)\n- [One](lessons/01_one.md)\n- [Gone](gone.md)\n",
    );
    only_fails(
        &files,
        "summary",
        "gone.md` names a page that does not exist",
    );
}

#[test]
fn a_page_missing_from_the_summary_fails() {
    let files = good().with("book/src/orphan.md", "# Orphan\n");
    only_fails(&files, "summary", "book/src/orphan.md: not in SUMMARY.md");
}

#[test]
fn an_include_of_a_missing_file_fails() {
    let files = good().with(
        "book/src/intro.md",
        "# Intro\n\n```rust,ignore\n{{#include ../../src/bin/99_nothing.rs:serve}}\n```\n",
    );
    only_fails(
        &files,
        "includes",
        "src/bin/99_nothing.rs, which does not exist",
    );
}

#[test]
fn an_include_of_a_missing_anchor_fails() {
    let files = good().with(
        "book/src/lessons/01_one.md",
        "{{#include ../../../lessons/01_one.md}}\n\n## The code\n\n```rust,ignore\n\
         {{#include ../../../src/bin/01_one.rs:serve}}\n{{#include ../../../src/bin/01_one.rs:accept_loop}}\n```\n",
    );
    only_fails(&files, "includes", "has no `ANCHOR: accept_loop`");
}

#[test]
fn an_anchor_that_is_never_closed_fails() {
    let files = good().with(
        "src/bin/01_one.rs",
        "fn main() {}\n// ANCHOR: serve\nfn serve() {}\n",
    );
    only_fails(
        &files,
        "includes",
        "never closes it with `ANCHOR_END: serve`",
    );
}

#[test]
fn an_include_by_line_numbers_fails() {
    let files = good().with(
        "book/src/lessons/01_one.md",
        "{{#include ../../../lessons/01_one.md}}\n\n## The code\n\n```rust,ignore\n\
         {{#include ../../../src/bin/01_one.rs:serve}}\n{{#include ../../../src/bin/01_one.rs:2:4}}\n```\n",
    );
    only_fails(&files, "includes", "selects lines by number");
}

#[test]
fn hand_typed_rust_fails() {
    let files = good().with(
        "book/src/intro.md",
        "# Intro\n\n```rust,ignore\nfn main() {\n    println!(\"hand-typed\");\n}\n```\n",
    );
    only_fails(&files, "code blocks", "hand-typed Rust");
}

#[test]
fn rust_not_marked_ignore_fails() {
    let files = good().with(
        "book/src/lessons/01_one.md",
        "{{#include ../../../lessons/01_one.md}}\n\n## The code\n\n\
         ```rust\n{{#include ../../../src/bin/01_one.rs:serve}}\n```\n",
    );
    only_fails(&files, "code blocks", "not marked `ignore`");
}

#[test]
fn a_fence_without_a_language_fails() {
    let files = good().with("book/src/intro.md", "# Intro\n\n```\nlet x = 1;\n```\n");
    only_fails(&files, "code blocks", "without a language");
}

#[test]
fn a_long_sketch_fails() {
    let body = (0..SKETCH_LINES)
        .map(|i| format!("let x{i} = {i};\n"))
        .collect::<String>();
    let files = good().with(
        "book/src/intro.md",
        &format!("# Intro\n\n```rust,ignore\n{SKETCH_MARK}: too long\n{body}```\n"),
    );
    only_fails(&files, "code blocks", "a sketch of 13 lines");
}

#[test]
fn an_include_mixed_with_hand_typed_rust_fails() {
    let files = good().with(
        "book/src/lessons/01_one.md",
        "{{#include ../../../lessons/01_one.md}}\n\n## The code\n\n```rust,ignore\n\
         {{#include ../../../src/bin/01_one.rs:serve}}\nfn extra() {}\n```\n",
    );
    only_fails(
        &files,
        "code blocks",
        "mixes an include with hand-typed lines",
    );
}

#[test]
fn hand_typed_rust_in_an_included_lesson_page_fails() {
    let files = good().with(
        "lessons/01_one.md",
        "# Lesson 01\n\n```rust\nfn main() {}\n```\n",
    );
    only_fails(
        &files,
        "code blocks",
        "lessons/01_one.md:3: a ```rust block not marked",
    );
}

#[test]
fn a_link_to_a_missing_file_fails() {
    let files = good().with("book/src/intro.md", "# Intro\n\nSee [this](nowhere.md).\n");
    only_fails(
        &files,
        "links",
        "leads to book/src/nowhere.md, which does not exist",
    );
}

#[test]
fn a_link_outside_the_book_fails() {
    let files = good().with(
        "book/src/intro.md",
        "# Intro\n\nThe [source](../../src/bin/01_one.rs).\n",
    );
    only_fails(&files, "links", "outside book/src");
}

#[test]
fn a_link_to_a_missing_heading_fails() {
    let files = good().with(
        "book/src/intro.md",
        "# Intro\n\nSee [the code](lessons/01_one.md#the-listing).\n",
    );
    only_fails(&files, "links", "has no heading with the id `the-listing`");
}

#[test]
fn a_link_to_a_page_that_is_not_built_fails() {
    let files = good()
        .with(
            "book/src/intro.md",
            "# Intro\n\nSee [notes](notes.txt.md).\n",
        )
        .with("book/src/notes.txt.md", "# Notes\n");
    let problems = link_problems(&files);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("not a page of SUMMARY.md")),
        "{problems:#?}"
    );
}

#[test]
fn a_lesson_page_link_that_breaks_where_it_ends_up_fails() {
    // `../src/bin/01_one.rs` is right from lessons/, but the page ends up in book/src/lessons/.
    let files = good().with(
        "lessons/01_one.md",
        "# Lesson 01\n\nThe [source](../src/bin/01_one.rs).\n",
    );
    only_fails(
        &files,
        "links",
        "(in lessons/01_one.md, included by this page)",
    );
}

#[test]
fn a_lesson_page_the_book_does_not_include_fails() {
    let files = good().with("lessons/02_two.md", "# Lesson 02\n");
    only_fails(
        &files,
        "lessons",
        "lessons/02_two.md exists, but the book does not show it",
    );
}

#[test]
fn a_binary_anchor_the_book_does_not_show_fails() {
    let files = good().with(
        "src/bin/01_one.rs",
        "// ANCHOR: listen\nfn listen() {}\n// ANCHOR_END: listen\n\
         // ANCHOR: serve\nfn serve() {}\n// ANCHOR_END: serve\n",
    );
    only_fails(&files, "lessons", "marks `ANCHOR: listen` for the book");
}

#[test]
fn a_missing_summary_fails() {
    let files = good().without("book/src/SUMMARY.md");
    assert!(
        summary_problems(&files)
            .iter()
            .any(|p| p.contains("SUMMARY.md: missing"))
    );
}

#[test]
fn markdown_helpers_agree_with_mdbook() {
    // Heading ids as mdBook 0.5 makes them.
    let ids = heading_ids(
        "# The calls\n## `localhost`, `127.0.0.1` and `0.0.0.0`\n\
         ## setsockopt(): SO_REUSEADDR and TIME_WAIT\n## Tools\n## Tools\n\
         ```text\n# not a heading\n```\n## [A link](x.md) here\n",
    );
    let want = [
        "the-calls",
        "localhost-127001-and-0000",
        "setsockopt-so_reuseaddr-and-time_wait",
        "tools",
        "tools-1",
        "a-link-here",
    ];
    assert_eq!(ids, want.iter().map(|s| s.to_string()).collect());
    // Links inside code spans and code blocks are not links; escaped includes are not includes.
    assert_eq!(
        links("a [b](c.md) `[d](e.md)` ![f](g.png) <a href=\"h.html\">\n```text\n[i](j)\n```\n"),
        vec![
            (1, "c.md".to_string()),
            (1, "g.png".to_string()),
            (1, "h.html".to_string())
        ]
    );
    assert!(includes("\\{{#include x.rs}}").is_empty());
    assert_eq!(includes("{{ #include a/b.rs:name }}")[0].path, "a/b.rs");
    assert_eq!(
        normalize(Path::new("book/src/lessons/../../x")),
        PathBuf::from("book/x")
    );
    assert_eq!(normalize(Path::new("book/../../x")), PathBuf::from("../x"));
}

// ---------------------------------------------------------------------------------------------
// 6. Hints. Every check's hint points at a section of its lesson page
//    (`lessons/02_echo.md#the-contract`); a renamed heading must not leave a scorecard pointing
//    nowhere.

/// Problems with the `lessons/PAGE.md#fragment` references in `hints`; `page` reads a lesson page.
fn hint_problems(hints: &[(&str, &str)], page: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (id, hint) in hints {
        let Some(start) = hint.find("lessons/") else {
            problems.push(format!(
                "check `{id}`: its hint names no lesson page: {hint}"
            ));
            continue;
        };
        let reference: String = hint[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != ':' && *c != ',')
            .collect();
        let (file, fragment) = reference.split_once('#').unwrap_or((&reference, ""));
        match page(file) {
            None => problems.push(format!("check `{id}`: {file} does not exist")),
            Some(text) if !fragment.is_empty() && !heading_ids(&text).contains(fragment) => {
                problems.push(format!(
                    "check `{id}`: {file} has no heading with the id `{fragment}`"
                ))
            }
            Some(_) => {}
        }
    }
    problems
}

#[test]
fn every_check_hint_points_at_a_real_section() {
    let hints: Vec<(&str, &str)> = workbook::checker::checks::LESSONS
        .iter()
        .flat_map(|l| l.checks.iter().map(|c| (c.id, c.hint)))
        .collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let read = |file: &str| std::fs::read_to_string(root.join(file)).ok();
    assert_none("check hints", hint_problems(&hints, &read));
}

#[test]
fn a_hint_to_a_missing_section_fails() {
    let read =
        |file: &str| (file == "lessons/x.md").then(|| "# X\n\n## The contract\n".to_string());
    assert!(hint_problems(&[("a", "lessons/x.md#the-contract: fine")], &read).is_empty());
    assert_eq!(
        hint_problems(&[("b", "lessons/x.md#the-calls: gone")], &read).len(),
        1
    );
    assert_eq!(
        hint_problems(&[("c", "lessons/y.md#the-contract: no page")], &read).len(),
        1
    );
}
