//! The book keeps itself honest: `cargo test --test book`, without mdBook.
//!
//! mdBook builds whatever it is given — a missing anchor becomes an empty listing, a link to a
//! renamed page a 404 — so these checks read `book/src` as mdBook does (include directives
//! replaced in the raw text, then pulldown-cmark, mdBook's parser, with mdBook 0.5's options)
//! and report what it would let through, as `RULE: FILE:LINE: what is wrong, what to do`:
//!
//! 1. **summary**: every page named in `SUMMARY.md` exists, once, and every page in `book/src` is
//!    named there (a page that is not in the summary is never built).
//! 2. **includes**: every include directive names a file that exists; a part of a file is chosen
//!    by an anchor that exists in it (`// ANCHOR: name` … `// ANCHOR_END: name`, once, closed,
//!    not empty), never by line numbers, which drift as soon as the file changes.
//! 3. **code blocks**: no Rust is typed into the book by hand. Every code block is fenced and
//!    names its language (`mdbook test` compiles an unnamed or indented block as Rust). A `rust`
//!    block is marked `ignore` (listings are fragments: `cargo build` compiles them, the
//!    playground cannot) and holds only include directives, or is a sketch of at most
//!    [`SKETCH_LINES`] lines whose first line starts [`SKETCH_MARK`].
//! 4. **links**: every relative link resolves to a file inside `book/src` (the built site holds
//!    nothing else); a link to a page names a page of the summary; a `#fragment` names a heading
//!    of that page. Links in an included lesson page are resolved from the chapter that includes
//!    it — where they end up.
//! 5. **lessons**: every workbook page `lessons/NAME.md` is included by its chapter
//!    `book/src/lessons/NAME.md` (same name, so links between lesson pages work in both places),
//!    whole: a page split into parts by `<!-- ANCHOR: name -->` markers (the teaching, then the
//!    reference) has every part included and no text outside its parts;
//!    and every anchor in a lesson's code (any file of its folder `src/lessons/lNN_name/`)
//!    or in its Python version (`examples/python/NN_name.py`, whose anchors
//!    are `# ANCHOR: name` lines) is shown by the chapter of that name.
//! 6. **hints**: every check's hint points at a heading of its lesson page
//!    (`lessons/02_echo.md#the-contract`), so a scorecard never points at a renamed heading.
//!
//! The rules read [`Files`], so the self-tests run them on books in memory ([`CASES`]): a good
//! book, then that book broken one way at a time, each with the problems it must report.
//!
//! Two more tests read the listings as mdBook shows them, through book/hide-narration: no Rust
//! listing shows narration, and no listing shows more than [`LISTING_LINES`] lines.

use pulldown_cmark::{CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use workbook::checker::checks::LESSONS;

const SRC: &str = "book/src";
/// The longest hand-typed Rust sketch allowed, in non-blank lines.
const SKETCH_LINES: usize = 12;
/// The first line that marks a hand-typed Rust block as a sketch.
const SKETCH_MARK: &str = "// not compiled";
/// How deep includes may nest (mdBook stops at 10 too).
const MAX_DEPTH: usize = 10;
/// The books of the self-tests; the file explains its format.
const CASES: &str = include_str!("fixtures/book/cases.txt");

/// A tree of files by path relative to the repository: the repository itself, or a test's book.
type Files = BTreeMap<PathBuf, String>;

/// Every file of the repository this test was built from, but `target/` and hidden ones; a file
/// that is not UTF-8 (an image) is there, empty.
fn repo() -> Files {
    fn walk(root: &Path, dir: &Path, files: &mut Files) {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            return;
        };
        for entry in entries.flatten() {
            let path = dir.join(entry.file_name());
            if path == Path::new("target") || entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            } else if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                walk(root, &path, files);
            } else {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                files.insert(path, text);
            }
        }
    }
    let mut files = Files::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    walk(root, Path::new(""), &mut files);
    files
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

/// `path` joined to the directory of `file`, normalized.
fn beside(file: &Path, path: &str) -> PathBuf {
    normalize(&file.parent().unwrap_or(Path::new("")).join(path))
}

fn show(path: &Path) -> String {
    path.display().to_string()
}

fn is_markdown(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "md")
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

// ---------------------------------------------------------------------------------------------
// Markdown, read from pulldown-cmark's events.

/// A code block: the line it starts on, its info string (`None` for an indented block), its
/// text, and whether its fence is closed.
struct Block(usize, Option<String>, String, bool);

/// What the rules need of one Markdown text.
struct Markdown {
    blocks: Vec<Block>,
    /// The targets of its links, images and HTML `href`/`src`, by line.
    links: Vec<(usize, String)>,
    /// The ids of its headings and definition-list terms.
    ids: BTreeSet<String>,
}

/// mdBook's `id_from_content`: lower case; letters, digits, `_` and `-` kept; white space
/// becomes `-`; everything else dropped.
fn id_from_content(text: &str) -> String {
    let id = text.trim().to_lowercase().replace(char::is_whitespace, "-");
    id.replace(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'), "")
}

/// Whether a fenced block's source ends with a closing fence: pulldown-cmark runs an unclosed
/// fence to the end of its container without saying so.
fn is_closed(source: &str) -> bool {
    let open = source.trim_start();
    let fence = open.chars().next().unwrap_or('`');
    let length = open.chars().take_while(|c| *c == fence).count();
    let last = source.trim_end().lines().skip(1).last().unwrap_or_default();
    let last = last.trim_start_matches([' ', '\t', '>']).trim_end();
    last.len() >= length && last.chars().all(|c| c == fence)
}

fn markdown(text: &str) -> Markdown {
    // mdBook 0.5's parser (`mdbook_markdown::new_cmark_parser`, with the book's defaults). Smart
    // punctuation matters to heading ids: it turns `--` into `–`, which the id then drops.
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_SMART_PUNCTUATION
        | Options::ENABLE_DEFINITION_LIST
        | Options::ENABLE_GFM;
    let (mut blocks, mut links, mut ids) = (Vec::new(), Vec::new(), BTreeSet::new());
    // The heading being read: its explicit `{#id}` and its text so far; the ids mdBook made.
    let (mut heading, mut made) = (None, BTreeSet::new());
    let mut in_block = false;
    for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
        let line = line_of(text, range.start);
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let info = match kind {
                    CodeBlockKind::Fenced(info) => Some(info.to_string()),
                    CodeBlockKind::Indented => None,
                };
                let closed = info.is_none() || is_closed(&text[range]);
                blocks.push(Block(line, info, String::new(), closed));
                in_block = true;
            }
            Event::End(TagEnd::CodeBlock) => in_block = false,
            // `<name@host>` is a `mailto:` link; a reference-style link comes with its target.
            Event::Start(Tag::Link {
                link_type: LinkType::Email,
                ..
            }) => {}
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                links.push((line, dest_url.to_string()));
            }
            Event::Html(html) | Event::InlineHtml(html) => {
                for attribute in ["href=\"", "src=\""] {
                    for (at, _) in html.match_indices(attribute) {
                        let target = html[at + attribute.len()..].split('"').next();
                        let line = line + html[..at].matches('\n').count();
                        links.push((line, target.unwrap_or_default().to_string()));
                    }
                }
            }
            Event::Start(Tag::Heading { id, .. }) => heading = Some((id, String::new())),
            Event::Start(Tag::DefinitionListTitle) => heading = Some((None, String::new())),
            Event::Text(t) | Event::Code(t) => match (&mut heading, blocks.last_mut()) {
                (Some((_, words)), _) => words.push_str(&t),
                (None, Some(block)) if in_block => block.2.push_str(&t),
                _ => {}
            },
            Event::End(TagEnd::Heading(_) | TagEnd::DefinitionListTitle) => {
                let (explicit, words) = heading.take().unwrap_or_default();
                // mdBook's `unique_id`: `-1`, `-2`, … after a repeated id; an explicit id as is.
                let base = id_from_content(&words);
                let mut tries =
                    std::iter::once(base.clone()).chain((1..).map(|n| format!("{base}-{n}")));
                let id = explicit.map(|id| id.to_string());
                ids.extend(id.or_else(|| tries.find(|id| made.insert(id.clone()))));
            }
            _ => {}
        }
    }
    Markdown { blocks, links, ids }
}

// ---------------------------------------------------------------------------------------------
// Include directives, found in the raw text as mdBook finds them: anywhere, even inside code,
// unless escaped with a backslash.

/// Where an include directive is, the path it names, and what follows the path's first `:`
/// (an anchor name, or line numbers).
struct Include<'a>(Range<usize>, &'a str, Option<&'a str>);

/// `{{#include path[:selector]}}`, `{{#rustdoc_include …}}` and `{{#playground …}}` in `text`.
fn includes(text: &str) -> Vec<Include<'_>> {
    let mut found = Vec::new();
    for (start, _) in text.match_indices("{{") {
        let rest = &text[start + 2..];
        let Some(end) = rest.find('}').filter(|&end| rest[end..].starts_with("}}")) else {
            continue;
        };
        let words: Vec<&str> = rest[..end].split_whitespace().collect();
        let ["#include" | "#rustdoc_include" | "#playground", target, ..] = words[..] else {
            continue;
        };
        if !text[..start].ends_with('\\') {
            let (path, selector) = target.split_once(':').unzip();
            let range = start..start + end + 4;
            found.push(Include(range, path.unwrap_or(target), selector));
        }
    }
    found
}

/// The anchor `line` opens (`tag` is `ANCHOR:`) or closes (`ANCHOR_END:`), read as mdBook does.
fn marker<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    let rest = line[line.find(tag)? + tag.len()..].trim_start();
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'));
    Some(&rest[..end.unwrap_or(rest.len())]).filter(|name| !name.is_empty())
}

/// The part of `source` an include of anchor `name` shows, or why there is none.
fn anchored(source: &str, name: &str) -> Result<String, String> {
    let lines = anchored_lines(source, name)?;
    Ok(Vec::from_iter(lines.into_iter().map(|(_, line)| line)).join("\n"))
}

/// The lines an include of anchor `name` shows, each with its number in `source` (from 1).
fn anchored_lines<'a>(source: &'a str, name: &str) -> Result<Vec<(usize, &'a str)>, String> {
    let lines: Vec<&str> = source.lines().collect();
    let is = |i: &usize, tag| marker(lines[*i], tag) == Some(name);
    let opens: Vec<usize> = (0..lines.len()).filter(|i| is(i, "ANCHOR:")).collect();
    let [start] = opens[..] else {
        return Err(match opens.len() {
            0 => format!("has no `ANCHOR: {name}`"),
            n => format!("has `ANCHOR: {name}` {n} times"),
        });
    };
    let Some(end) = (start + 1..lines.len()).find(|i| is(i, "ANCHOR_END:")) else {
        let line = start + 1;
        return Err(format!(
            "opens `ANCHOR: {name}` on line {line} and never closes it with `ANCHOR_END: {name}`"
        ));
    };
    let is_shown = |l: &str| marker(l, "ANCHOR:").or(marker(l, "ANCHOR_END:")).is_none();
    let body = (start + 1..end).map(|i| (i + 1, lines[i]));
    let body: Vec<(usize, &str)> = body.filter(|(_, l)| is_shown(l)).collect();
    if body.iter().all(|(_, l)| l.trim().is_empty()) {
        return Err(format!("has an empty `ANCHOR: {name}`"));
    }
    Ok(body)
}

// ---------------------------------------------------------------------------------------------
// The book: the summary and its pages, each with everything it includes.

/// A page of the book: the Markdown files it is made of (itself first, then what it includes),
/// the ids of its headings once rendered, the files it includes with their selectors, and what
/// is wrong with its includes.
#[derive(Default)]
struct Page {
    path: PathBuf,
    parts: Vec<(PathBuf, String)>,
    ids: BTreeSet<String>,
    included: Vec<(PathBuf, Option<String>)>,
    problems: Vec<String>,
}

/// The `text` of `file`, part of `page`, with its includes replaced as mdBook does.
fn expand(files: &Files, file: &Path, text: &str, depth: usize, page: &mut Page) -> String {
    page.parts.push((file.to_path_buf(), text.to_string()));
    let (mut out, mut done) = (String::new(), 0);
    for Include(range, path, selector) in includes(text) {
        out.push_str(&text[done..range.start]);
        done = range.end;
        let line = line_of(text, range.start);
        let place = format!("includes: {}:{line}: `{}`", show(file), &text[range]);
        let target = beside(file, path);
        let entry = (target.clone(), selector.map(String::from));
        page.included.push(entry);
        let shown = match (files.get(&target), selector) {
            (None, _) => Err(format!("{} does not exist", show(&target))),
            _ if is_markdown(&target) && depth >= MAX_DEPTH => {
                Err("includes nest too deep (a cycle?)".to_string())
            }
            (Some(source), None | Some("")) => Ok(source.clone()),
            (Some(_), Some(s)) if s.starts_with(|c: char| c.is_ascii_digit() || c == ':') => {
                Err(format!(
                    "selects lines by number, and line numbers drift when the file changes: put \
                     `// ANCHOR: name` … `// ANCHOR_END: name` around the part and include \
                     `{path}:name`"
                ))
            }
            (Some(source), Some(name)) => {
                anchored(source, name).map_err(|why| format!("{} {why}", show(&target)))
            }
        };
        match shown {
            Err(why) => page.problems.push(format!("{place}: {why}")),
            Ok(shown) if !is_markdown(&target) => out.push_str(&shown),
            Ok(shown) => out.push_str(&expand(files, &target, &shown, depth + 1, page)),
        }
    }
    out.push_str(&text[done..]);
    out
}

struct Book {
    files: Files,
    pages: Vec<Page>,
    /// The pages the summary names.
    listed: BTreeSet<PathBuf>,
    /// What is wrong with the summary and the includes, each `RULE: FILE:LINE: what`.
    problems: Vec<String>,
}

impl Book {
    fn load(files: Files) -> Book {
        let (src, summary) = (Path::new(SRC), Path::new(SRC).join("SUMMARY.md"));
        let (mut listed, mut problems) = (BTreeSet::new(), Vec::new());
        let text = files.get(&summary);
        if text.is_none() {
            problems.push(format!("summary: {}: missing", show(&summary)));
        }
        // A draft chapter, `[Title]()`, names no page.
        let entries = text.map(|text| markdown(text).links).unwrap_or_default();
        for (line, target) in entries.into_iter().filter(|(_, t)| !t.is_empty()) {
            let path = normalize(&src.join(&target));
            let problem = if !path.starts_with(src) || !files.contains_key(&path) {
                let path = show(&path);
                format!("`{target}` names a page that does not exist in {SRC} ({path})")
            } else if !listed.insert(path) {
                format!("`{target}` is listed twice")
            } else {
                continue;
            };
            problems.push(format!("summary: {}:{line}: {problem}", show(&summary)));
        }
        let unlisted = |f: &&PathBuf| f.starts_with(src) && is_markdown(f) && !listed.contains(*f);
        for file in files.keys().filter(unlisted).filter(|f| **f != summary) {
            let why = "not in SUMMARY.md, so mdBook never builds it: add it, or delete it";
            problems.push(format!("summary: {}: {why}", show(file)));
        }
        let mut pages = Vec::new();
        for path in &listed {
            let mut page = Page::default();
            let rendered = expand(&files, path, &files[path], 0, &mut page);
            page.ids = markdown(&rendered).ids;
            page.path = path.clone();
            problems.append(&mut page.problems);
            pages.push(page);
        }
        Book {
            files,
            pages,
            listed,
            problems,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The rules.

/// Every problem of `book`, each `RULE: FILE:LINE: what is wrong`.
fn problems(book: &Book) -> Vec<String> {
    let mut problems = book.problems.clone();
    let mut seen = BTreeSet::new();
    for page in &book.pages {
        for (file, text) in &page.parts {
            let Markdown { blocks, links, .. } = markdown(text);
            // A file included by two pages has its code blocks checked once.
            for block in blocks.iter().filter(|_| !seen.contains(file)) {
                let at = format!("code blocks: {}:{}", show(file), block.0);
                problems.extend(block_problem(block).map(|problem| format!("{at}: {problem}")));
            }
            seen.insert(file);
            for (line, target) in &links {
                let at = format!("links: {}:{line}", show(file));
                let problem = book.link_problem(page, file, target);
                problems.extend(problem.map(|problem| format!("{at}: {problem}")));
            }
        }
    }
    let lessons = book.lesson_problems().into_iter();
    problems.extend(lessons.map(|problem| format!("lessons: {problem}")));
    problems
}

/// What is wrong with one code block, if anything (rule 3).
fn block_problem(Block(_, info, body, closed): &Block) -> Option<String> {
    let language = info.as_deref().unwrap_or_default();
    let words: Vec<&str> = language.split([',', ' ', '\t']).collect();
    let lines: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    let included = lines.iter().filter(|l| !includes(l).is_empty()).count();
    let sketch = body.trim_start().starts_with(SKETCH_MARK);
    let problem = if info.is_none() {
        "an indented code block: fence it and name its language (```text, ```console, …); \
         mdbook test would compile it as Rust"
    } else if !closed {
        "a code fence that is never closed"
    } else if words[0].is_empty() {
        "a code fence without a language: name it (```text, ```console, ```rust,ignore, …); \
         mdbook test would compile an unnamed block as Rust"
    } else if !matches!(words[0], "rust" | "rs") {
        return None;
    } else if !words.contains(&"ignore") {
        "a ```rust block not marked `ignore`: write ```rust,ignore — listings are fragments \
         that cargo build compiles, not programs the playground can run"
    } else if included > 0 && included == lines.len() {
        return None;
    } else if included > 0 {
        "a ```rust block mixes an include with hand-typed lines: put the whole listing between \
         anchors in the source"
    } else if !sketch {
        return Some(format!(
            "hand-typed Rust: include it from the compiled source by anchor (`// ANCHOR: name`), \
             or, for a short sketch that is not a program, make its first line `{SKETCH_MARK}: …`"
        ));
    } else if lines.len() > SKETCH_LINES {
        return Some(format!(
            "a sketch of {} lines; at most {SKETCH_LINES}: a listing that long belongs in a \
             compiled file, included by anchor",
            lines.len()
        ));
    } else {
        return None;
    };
    Some(problem.into())
}

impl Book {
    /// What is wrong with the link `target`, written in `file`, which ends up in `page` (rule 4).
    fn link_problem(&self, page: &Page, file: &Path, target: &str) -> Option<String> {
        // `https:`, `mailto:`, `//host/…` leave the book.
        let scheme = target.split_once(':').unzip().0.unwrap_or_default();
        let is_scheme = |c: char| c.is_ascii_alphanumeric() || "+.-".contains(c);
        let has_scheme = scheme.starts_with(char::is_alphabetic) && scheme.chars().all(is_scheme);
        if target.starts_with("//") || has_scheme {
            return None;
        }
        let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
        let resolved = match path.split('?').next().unwrap_or_default() {
            "" => page.path.clone(),
            path => beside(&page.path, path),
        };
        let via = match file == page.path {
            true => String::new(),
            false => format!(" (in {}, included by this page)", show(file)),
        };
        let leads = format!("`{target}`{via} leads to {}", show(&resolved));
        if !resolved.starts_with(SRC) {
            return Some(format!(
                "{leads}, outside {SRC}: the built book holds only {SRC}; link a page of the \
                 book, or write the path as code"
            ));
        } else if !self.files.contains_key(&resolved) {
            return Some(format!("{leads}, which does not exist"));
        } else if is_markdown(&resolved) && !self.listed.contains(&resolved) {
            return Some(format!(
                "{leads}, which SUMMARY.md does not list: it is never built"
            ));
        }
        if fragment.is_empty() {
            return None;
        }
        let ids = &self.pages.iter().find(|p| p.path == resolved)?.ids;
        let known = Vec::from_iter(ids.iter().map(String::as_str)).join(", ");
        let resolved = show(&resolved);
        let problem = format!("has no heading with the id `{fragment}` (it has: {known})");
        (!ids.contains(fragment)).then(|| format!("`{target}`{via}: {resolved} {problem}"))
    }

    /// What the lesson chapters fail to show (rule 5).
    fn lesson_problems(&self) -> Vec<String> {
        let included = |name: &str| {
            let chapter = Path::new(SRC).join("lessons").join(format!("{name}.md"));
            let page = self.pages.iter().find(|p| p.path == chapter);
            page.map(|p| p.included.clone()).unwrap_or_default()
        };
        let mut problems = Vec::new();
        for (file, text) in &self.files {
            // Every workbook page, numbered or not (`grading.md`); a README would become the
            // directory's index.html in the book and needs a decision of its own.
            let name = file.file_stem().unwrap_or_default().to_string_lossy();
            let page = file.starts_with("lessons") && is_markdown(file);
            let shown = |(t, _): &(PathBuf, _)| t == file;
            if page && !name.eq_ignore_ascii_case("readme") && !included(&name).iter().any(shown) {
                problems.push(format!(
                    "{file} exists, but the book does not show it: make {SRC}/lessons/{name}.md \
                     (listed in SUMMARY.md) include it with `{{{{#include ../../../{file}}}}}`",
                    file = show(file)
                ));
            } else if page {
                let parts = included(&name)
                    .into_iter()
                    .filter(shown)
                    .map(|(_, part)| part);
                problems.extend(page_part_problems(file, text, &Vec::from_iter(parts)));
            }
            let Some(lesson) = lesson_of(file) else {
                continue;
            };
            let shown = included(&lesson);
            let language = match file.extension().is_some_and(|e| e == "py") {
                true => "python",
                false => "rust,ignore",
            };
            for anchor in text.lines().filter_map(|l| marker(l, "ANCHOR:")) {
                if !shown.contains(&(file.clone(), Some(anchor.to_string()))) {
                    problems.push(format!(
                        "{file} marks `ANCHOR: {anchor}` for the book, but \
                         {SRC}/lessons/{lesson}.md does not show it: add a ```{language} block \
                         holding `{{{{#include ../../../{file}:{anchor}}}}}`",
                        file = show(file)
                    ));
                }
            }
        }
        problems
    }
}

/// What of the workbook page `file` its chapter, which includes `parts` of it (`None`: the whole
/// page), leaves out. A page in parts (`<!-- ANCHOR: teach -->` … `<!-- ANCHOR_END: teach -->`,
/// then the reference) is shown whole only if every part is included and no text lies outside
/// the parts: a reader of the book would never see it.
fn page_part_problems(file: &Path, text: &str, parts: &[Option<String>]) -> Vec<String> {
    if parts
        .iter()
        .any(|part| part.as_deref().unwrap_or_default().is_empty())
    {
        return Vec::new();
    }
    let (file, mut problems, mut depth) = (show(file), Vec::new(), 0usize);
    let chapter = |name: &str| format!("{SRC}/lessons/{name}");
    let name = Path::new(&file)
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    for (n, line) in text.lines().enumerate() {
        if let Some(anchor) = marker(line, "ANCHOR:") {
            depth += 1;
            if !parts.iter().any(|part| part.as_deref() == Some(anchor)) {
                problems.push(format!(
                    "{file}:{}: marks `ANCHOR: {anchor}`, but {} does not show it: include it \
                     with `{{{{#include ../../../{file}:{anchor}}}}}`",
                    n + 1,
                    chapter(&name)
                ));
            }
        } else if marker(line, "ANCHOR_END:").is_some() {
            depth = depth.saturating_sub(1);
        } else if depth == 0 && !line.trim().is_empty() {
            problems.push(format!(
                "{file}:{}: lies outside the page's anchors, so {} never shows it: move it into \
                 a part (`<!-- ANCHOR: name -->` … `<!-- ANCHOR_END: name -->`)",
                n + 1,
                chapter(&name)
            ));
        }
    }
    problems
}

/// The lesson a source file belongs to: `NN_name` for every `.rs` file of its folder
/// `src/lessons/lNN_name/`, and for the Python version `examples/python/NN_name.py`.
fn lesson_of(file: &Path) -> Option<String> {
    let (name, extension) = if let Ok(rest) = file.strip_prefix("src/lessons") {
        let folder = rest.components().next()?.as_os_str().to_str()?;
        (folder.strip_prefix('l')?.to_string(), "rs")
    } else {
        let rest = file.strip_prefix("examples/python").ok()?;
        (rest.file_stem()?.to_str()?.to_string(), "py")
    };
    let b = name.as_bytes();
    let numbered = b.len() > 3 && b[..2].iter().all(u8::is_ascii_digit) && b[2] == b'_';
    (numbered && file.extension().is_some_and(|e| e == extension)).then_some(name)
}

/// Problems with the `lessons/PAGE.md#fragment` each check's hint (`(id, hint)`) names (rule 6).
fn hint_problems<'a>(
    hints: impl Iterator<Item = (&'a str, &'a str)>,
    files: &Files,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (id, hint) in hints {
        let start = hint.find("lessons/").unwrap_or(hint.len());
        let rest = &hint[start..];
        let reference = rest.split([' ', ':', ',']).next().unwrap_or(rest);
        let (file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let problem = match files.get(Path::new(file)).map(|text| markdown(text).ids) {
            _ if file.is_empty() => format!("names no lesson page: {hint}"),
            None => format!("names {file}, which does not exist"),
            Some(ids) if !fragment.is_empty() && !ids.contains(fragment) => {
                format!("names `{file}#{fragment}`, but {file} has no heading with that id")
            }
            Some(_) => continue,
        };
        problems.push(format!("hints: check `{id}`: its hint {problem}"));
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// The rules on the real book; then each rule failing on a book that breaks it.

#[test]
fn the_book_keeps_every_rule() {
    let book = Book::load(repo());
    // Guards against the rules passing because they read nothing.
    let included: usize = book.pages.iter().map(|p| p.included.len()).sum();
    assert!(
        book.pages.len() >= 10 && included >= 3,
        "only {included} includes"
    );
    let checks = LESSONS.iter().flat_map(|lesson| lesson.checks);
    let hints = checks.map(|check| (check.id, check.hint));
    let problems = [problems(&book), hint_problems(hints, &book.files)].concat();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A case of [`CASES`]: the problems it expects, its files (`None`: deleted), its checks' hints.
#[derive(Default)]
struct Case {
    name: String,
    expected: Vec<String>,
    files: Vec<(PathBuf, Option<String>)>,
    hints: Vec<(String, String)>,
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for line in CASES.lines() {
        let directive = line.strip_prefix("@@ ");
        let directive = directive.map(|d| d.split_once(' ').unwrap_or((d, "")));
        match (directive, cases.last_mut()) {
            (Some(("case", name)), _) => cases.push(Case {
                name: name.into(),
                ..Case::default()
            }),
            (Some(("expect", problem)), Some(case)) => case.expected.push(problem.into()),
            (Some(("file", path)), Some(case)) => case.files.push((path.into(), Some("".into()))),
            (Some(("delete", path)), Some(case)) => case.files.push((path.into(), None)),
            (Some(("hint", hint)), Some(case)) => {
                let (id, hint) = hint.split_once(": ").unwrap_or(("", hint));
                case.hints.push((id.into(), hint.into()));
            }
            (Some((what, _)), _) => panic!("cases.txt: `@@ {what}` is no directive"),
            // The header, a case's comment before its first file, or a line of its last file.
            (None, case) => {
                if let Some((_, Some(text))) = case.and_then(|case| case.files.last_mut()) {
                    text.extend([line, "\n"]);
                }
            }
        }
    }
    cases
}

#[test]
fn each_rule_fails_on_a_book_that_breaks_it() {
    let cases = cases();
    assert!(cases.len() > 20, "only {} cases", cases.len());
    let good = cases
        .iter()
        .find(|case| case.name == "good")
        .expect("a good book");
    let mut failures = Vec::new();
    for case in &cases {
        let mut files = Files::new();
        for (path, text) in good.files.iter().chain(&case.files) {
            match text {
                Some(text) => files.insert(path.clone(), text.trim_end().to_string() + "\n"),
                None => files.remove(path),
            };
        }
        let book = Book::load(files);
        let hints = good.hints.iter().chain(&case.hints);
        let hints = hints.map(|(id, hint)| (id.as_str(), hint.as_str()));
        let found = [problems(&book), hint_problems(hints, &book.files)].concat();
        let expected = &case.expected;
        let matches = |(found, expected): (&String, &String)| found.starts_with(expected.as_str());
        if found.len() != expected.len() || !found.iter().zip(expected).all(matches) {
            let name = &case.name;
            failures.push(format!("{name}: expected {expected:#?}\nfound {found:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn markdown_is_read_as_mdbook_reads_it() {
    // Heading ids as mdBook 0.5 makes them; `#` in a code block is no heading.
    let text = "# The calls\n## `localhost`, `127.0.0.1` and `0.0.0.0`\n\
                ## setsockopt(): SO_REUSEADDR and TIME_WAIT\n## Tools\n## Tools\n\
                ```text\n# not a heading\n```\n## [A link](x.md) here\n## Named {#own-id}\n\
                ## Bind -- then \"listen\"\nTerm\n: its definition\n";
    let ids = "the-calls localhost-127001-and-0000 setsockopt-so_reuseaddr-and-time_wait tools \
               tools-1 a-link-here own-id bind--then-listen term";
    assert_eq!(
        markdown(text).ids,
        ids.split(' ').map(String::from).collect()
    );
    // Links inside code spans and code blocks are not links; escaped includes are not includes.
    let text = "a [b](c.md) `[d](e.md)` ![f](g.png) <a href=\"h.html\">\n```text\n[i](j)\n```\n";
    let links = [(1, "c.md"), (1, "g.png"), (1, "h.html")].map(|(n, t)| (n, t.to_string()));
    assert_eq!(markdown(text).links, links);
    assert!(includes("\\{{#include x.rs}}").is_empty());
    assert_eq!(includes("{{ #include a/b.rs:name }}")[0].1, "a/b.rs");
    let normal = |path: &str| normalize(Path::new(path));
    assert_eq!(normal("book/src/lessons/../../x"), Path::new("book/x"));
    assert_eq!(normal("book/../../x"), Path::new("../x"));
}

// ---------------------------------------------------------------------------------------------
// Narration: every Rust listing of the book, through book/hide-narration as mdBook runs it.

/// The preprocessor that folds narration, and its rule cases (the file explains its format).
const HIDE_NARRATION: &str = "book/hide-narration";
const NARRATION_CASES: &str = include_str!("fixtures/book/narration.txt");

/// Run book/hide-narration on `listings` as mdBook would (one chapter each, a ```rust block);
/// with `--report`, what it reports; without, the chapters' contents it gives back.
fn hide_narration(listings: &[String], report: bool) -> Vec<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let chapter = |(n, listing): (usize, &String)| {
        let content = format!("```rust,ignore\n{listing}\n```\n");
        let chapter = serde_json::json!({"name": n.to_string(), "content": content,
            "number": null, "sub_items": [], "path": n.to_string(), "parent_names": []});
        serde_json::json!({ "Chapter": chapter })
    };
    let items: Vec<_> = listings.iter().enumerate().map(chapter).collect();
    let input = serde_json::json!([{}, {"items": items}]).to_string();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(HIDE_NARRATION);
    let mut child = Command::new("python3")
        .arg(&script)
        .args(report.then_some("--report"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs book/hide-narration");
    let mut stdin = child.stdin.take().expect("a pipe");
    stdin.write_all(input.as_bytes()).expect("the book goes in");
    drop(stdin);
    let out = child
        .wait_with_output()
        .expect("book/hide-narration finishes");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{HIDE_NARRATION} failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if report {
        return stdout.lines().map(String::from).collect();
    }
    let book: serde_json::Value = serde_json::from_str(&stdout).expect("a book comes out");
    let items = book["items"].as_array().expect("its chapters").iter();
    let content = |item: &serde_json::Value| item["Chapter"]["content"].as_str().map(String::from);
    items
        .map(|item| content(item).expect("a chapter"))
        .collect()
}

/// A code block of the book as a reader gets it: where it is, its language, its text with its
/// includes resolved to the source's lines, and, for each of those lines, where it comes from.
struct Listing {
    at: String,
    language: String,
    text: String,
    origins: Vec<String>,
}

/// Each code block of `book` whose language `keep` accepts: a block of a page or of a file it
/// includes, each once.
fn listings(book: &Book, keep: impl Fn(&str) -> bool) -> Vec<Listing> {
    let mut listings = Vec::new();
    let mut seen = BTreeSet::new();
    for (file, text) in book.pages.iter().flat_map(|page| &page.parts) {
        for Block(line, info, body, _) in markdown(text).blocks {
            let info = info.unwrap_or_default();
            let language = info.split([',', ' ']).next().unwrap_or_default();
            if !keep(language) || !seen.insert((file.clone(), line)) {
                continue;
            }
            let (mut lines, mut origins) = (Vec::new(), Vec::new());
            for (n, text) in body.lines().enumerate() {
                let Some(Include(_, path, selector)) = includes(text).into_iter().next() else {
                    lines.push(text.to_string());
                    origins.push(format!("{}:{}", show(file), line + 1 + n));
                    continue;
                };
                let target = beside(file, path);
                let source = book
                    .files
                    .get(&target)
                    .map(String::as_str)
                    .unwrap_or_default();
                let shown = match selector {
                    Some(name) if !name.is_empty() => anchored_lines(source, name),
                    _ => Ok(source
                        .lines()
                        .enumerate()
                        .map(|(i, l)| (i + 1, l))
                        .collect()),
                };
                // A broken include is the includes rule's to report.
                for (number, text) in shown.unwrap_or_default() {
                    lines.push(text.to_string());
                    origins.push(format!("{}:{number}", show(&target)));
                }
            }
            listings.push(Listing {
                at: format!("{}:{line}", show(file)),
                language: language.to_string(),
                text: lines.join("\n"),
                origins,
            });
        }
    }
    listings
}

/// Each Rust listing of `book` (a ```rust block).
fn rust_listings(book: &Book) -> Vec<Listing> {
    listings(book, |language| matches!(language, "rust" | "rs"))
}

#[test]
fn no_listing_shows_narration() {
    let book = Book::load(repo());
    let listings = rust_listings(&book);
    // Guards against passing because nothing was read.
    assert!(
        listings.len() >= 30,
        "only {} Rust listings",
        listings.len()
    );
    let texts: Vec<String> = listings
        .iter()
        .map(|listing| listing.text.clone())
        .collect();
    let mut shown = Vec::new();
    for found in hide_narration(&texts, true) {
        // `LISTING:LINE: text`, LINE counted from the listing's opening fence.
        let mut parts = found.splitn(3, ':');
        let (listing, line, text) = (parts.next(), parts.next(), parts.next());
        let listing: usize = listing.and_then(|n| n.parse().ok()).expect("a listing");
        let line: usize = line.and_then(|n| n.parse().ok()).expect("a line");
        let origin = &listings[listing].origins[line - 2];
        shown.push(format!("{origin}: {}", text.unwrap_or_default().trim()));
    }
    assert!(
        shown.is_empty(),
        "{} narration or narration scaffolding lines the book shows (write narration as \
         `narrate!(say, call(…))`: book/hide-narration folds that form; see its rules):\n{}",
        shown.len(),
        shown.join("\n")
    );
}

/// The most lines a listing may show: about a screen, so that the prose before it is still in
/// mind at its end. A longer one is split where the code has a seam, each part with its own prose.
const LISTING_LINES: usize = 60;

/// How many lines of `shown` (a chapter's ```rust block as book/hide-narration gives it back) a
/// reader sees: mdBook hides a line marked `# ` (or a bare `#`), and the eye button shows it.
fn visible_lines(shown: &str) -> usize {
    let body = shown.lines().skip(1).collect::<Vec<_>>();
    let body = &body[..body.len().saturating_sub(1)]; // the closing fence
    let hidden = |line: &&&str| {
        let line = line.trim_start();
        line == "#" || line.starts_with("# ")
    };
    body.iter().filter(|line| !hidden(line)).count()
}

#[test]
fn no_listing_is_longer_than_a_screen() {
    let book = Book::load(repo());
    // Every listing but a diagram (Mermaid's text is drawn, not read); Rust as it is shown, its
    // narration hidden.
    let all = listings(&book, |language| language != "mermaid");
    let (rust, other): (Vec<&Listing>, Vec<&Listing>) = all
        .iter()
        .partition(|listing| matches!(listing.language.as_str(), "rust" | "rs"));
    // Guards against passing because nothing was read.
    assert!(rust.len() >= 30 && other.len() >= 30, "too few listings");
    let texts: Vec<String> = rust.iter().map(|listing| listing.text.clone()).collect();
    let shown = hide_narration(&texts, false);
    let rust = rust
        .iter()
        .zip(shown.iter().map(|shown| visible_lines(shown)));
    let other = other
        .iter()
        .map(|listing| (listing, listing.text.lines().count()));
    let mut long = Vec::new();
    for (listing, lines) in rust
        .chain(other)
        .filter(|(_, lines)| *lines > LISTING_LINES)
    {
        let from = match (listing.origins.first(), listing.origins.last()) {
            (Some(first), Some(last)) => format!(" (from {first} to {last})"),
            _ => String::new(),
        };
        long.push(format!(
            "listings: {}: a ```{} listing of {lines} visible lines{from}; at most \
             {LISTING_LINES}: split it where the code has a seam (a new `ANCHOR` in the \
             source), and say before each part what to look for",
            listing.at, listing.language
        ));
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn hide_narration_folds_what_each_rule_says() {
    // A case is `@@ case NAME` and a listing as the book should show it: the lines to hide
    // marked `# ` as mdBook marks them; the preprocessor gets the listing unmarked, or the
    // source given after `@@ source` (then the listing follows `@@ shows`).
    #[derive(Default)]
    struct Case {
        name: String,
        source: Option<Vec<String>>,
        shows: Vec<String>,
        in_source: bool,
    }
    let mut cases: Vec<Case> = Vec::new();
    for line in NARRATION_CASES.lines() {
        match (line.strip_prefix("@@ "), cases.last_mut()) {
            (Some("source"), Some(case)) => (case.source, case.in_source) = (Some(vec![]), true),
            (Some("shows"), Some(case)) => case.in_source = false,
            (Some(name), _) => cases.push(Case {
                name: name.strip_prefix("case ").expect("`@@ case NAME`").into(),
                ..Case::default()
            }),
            (None, Some(case)) if case.in_source => {
                case.source.get_or_insert_default().push(line.into())
            }
            (None, Some(case)) => case.shows.push(line.into()),
            (None, None) => {} // the header
        }
    }
    assert!(cases.len() >= 10, "only {} cases", cases.len());
    let unmark = |line: &String| match line.trim_start().strip_prefix('#') {
        Some(rest) if rest.is_empty() || rest.starts_with(' ') => {
            let indent = &line[..line.len() - line.trim_start().len()];
            format!("{indent}{}", rest.strip_prefix(' ').unwrap_or(rest))
        }
        _ => line.clone(),
    };
    let trimmed = |lines: &[String]| {
        let end = lines
            .iter()
            .rposition(|l| !l.trim().is_empty())
            .map_or(0, |i| i + 1);
        lines[..end].join("\n")
    };
    let sources: Vec<String> = cases
        .iter()
        .map(|case| match &case.source {
            Some(source) => trimmed(source),
            None => trimmed(&Vec::from_iter(case.shows.iter().map(unmark))),
        })
        .collect();
    let got = hide_narration(&sources, false);
    let mut failures = Vec::new();
    for (case, got) in cases.iter().zip(got) {
        let want = format!("```rust,ignore\n{}\n```\n", trimmed(&case.shows));
        if got != want {
            failures.push(format!("{}: expected\n{want}found\n{got}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whether a line of Markdown is prose a reader reads before a listing: not a heading, a fence, an
/// include, a comment or a table row.
fn is_prose(line: &str) -> bool {
    let line = line.trim_start();
    !["#", "```", "{{#", "<!--", "|"]
        .iter()
        .any(|start| line.starts_with(start))
}

/// The listings of one Markdown `text` (code blocks that show real source by an include) and,
/// for each one with no sentence right before it, what comes before it instead.
fn bare_listings(file: &Path, text: &str) -> (usize, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut listings = 0;
    let mut bare = Vec::new();
    for Block(line, _, body, _) in markdown(text).blocks {
        if !body.contains("{{#include") {
            continue;
        }
        listings += 1;
        let before = lines[..line.saturating_sub(1)]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty());
        if !before.is_some_and(|l| is_prose(l)) {
            bare.push(format!(
                "{}:{line}: a listing after {:?}: say before it what to look for",
                show(file),
                before.copied().unwrap_or("the start of the page")
            ));
        }
    }
    (listings, bare)
}

#[test]
fn every_listing_has_prose_before_it() {
    // What comes right before a listing tells the reader what to look for in it: a sentence,
    // not a heading or another listing.
    let book = Book::load(repo());
    let (mut listings, mut bare) = (0, Vec::new());
    for (file, text) in book.pages.iter().flat_map(|page| &page.parts) {
        let (n, found) = bare_listings(file, text);
        listings += n;
        bare.extend(found);
    }
    // Guards against passing because nothing was read.
    assert!(listings >= 60, "only {listings} listings");
    assert!(bare.is_empty(), "{}", bare.join("\n"));
}

#[test]
fn a_listing_right_after_a_heading_or_a_listing_is_bare() {
    let text = "## The code\n\n```rust,ignore\n{{#include a.rs:one}}\n```\n\n\
                ```rust,ignore\n{{#include a.rs:two}}\n```\n\nThe loop that reads:\n\n\
                ```rust,ignore\n{{#include a.rs:three}}\n```\n";
    let (listings, bare) = bare_listings(Path::new("book/src/x.md"), text);
    assert_eq!(listings, 3);
    assert_eq!(
        bare,
        [
            "book/src/x.md:3: a listing after \"## The code\": say before it what to look for",
            "book/src/x.md:7: a listing after \"```\": say before it what to look for",
        ]
    );
}
