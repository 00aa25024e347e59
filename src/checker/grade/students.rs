//! Lessons by name, and student folders: a folder says how to start each lesson's program, in a
//! `run.toml` ([`MANIFEST`]: `02_echo = "python3 echo.py"`) or with an executable `run`
//! ([`RUN_SCRIPT`]); a class is a folder of student folders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::checker::checks::{LESSONS, Lesson};
use crate::checker::harness::Target;

/// The manifest file in a student folder.
pub const MANIFEST: &str = "run.toml";
/// The executable a student folder may hold instead: run as `run LESSON ARGS…`.
pub const RUN_SCRIPT: &str = "run";

/// The lesson named `name`: its binary's name (`02_echo`), its number (`02`, `2`) or the rest of
/// its name (`echo`).
pub fn find_lesson(name: &str) -> Option<&'static Lesson> {
    LESSONS.iter().find(|lesson| {
        let (number, rest) = lesson.name.split_once('_').unwrap_or((lesson.name, ""));
        lesson.name == name
            || number == name
            || rest == name
            || (name.parse::<u32>().ok()).is_some_and(|n| number.parse::<u32>() == Ok(n))
    })
}

/// How a student folder says how to start its programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Manifest {
    /// `run.toml`: one command line per lesson, `02_echo = "python3 echo.py"`.
    Commands(BTreeMap<String, String>),
    /// An executable `run`, started as `run LESSON ARGS…` for every lesson.
    Script(PathBuf),
}

impl Manifest {
    /// Read the manifest of the student folder `dir`: its `run.toml`, else its executable `run`.
    pub fn load(dir: &Path) -> Result<Manifest, String> {
        let toml_path = dir.join(MANIFEST);
        if toml_path.is_file() {
            let text = std::fs::read_to_string(&toml_path)
                .map_err(|e| format!("cannot read {MANIFEST}: {e}"))?;
            return Manifest::parse(&text).map(Manifest::Commands);
        }
        let script = dir.join(RUN_SCRIPT);
        if script.is_file() {
            use std::os::unix::fs::PermissionsExt;
            let mode = script
                .metadata()
                .map(|m| m.permissions().mode())
                .unwrap_or(0);
            if mode & 0o111 == 0 {
                return Err(format!(
                    "`{RUN_SCRIPT}` is not executable (chmod +x {RUN_SCRIPT})"
                ));
            }
            return Ok(Manifest::Script(script));
        }
        Err(format!(
            "no {MANIFEST} and no executable `{RUN_SCRIPT}` in the folder"
        ))
    }

    /// Parse a `run.toml`: every key a lesson's name, every value a command line.
    pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| format!("{MANIFEST}: {}", e.message()))?;
        let mut commands = BTreeMap::new();
        for (key, value) in table {
            if !LESSONS.iter().any(|l| l.name == key) {
                return Err(format!(
                    "{MANIFEST}: `{key}` is not a lesson (the lessons are {})",
                    lesson_names()
                ));
            }
            let Some(line) = value.as_str() else {
                return Err(format!(
                    "{MANIFEST}: `{key}` must be a command line in quotes, e.g. {key} = \"python3 {key}.py\""
                ));
            };
            commands.insert(key, line.to_string());
        }
        Ok(commands)
    }

    /// The lessons this manifest has a program for, in the course's order.
    pub fn lessons(&self) -> Vec<&'static Lesson> {
        LESSONS
            .iter()
            .filter(|l| match self {
                Manifest::Commands(commands) => commands.contains_key(l.name),
                Manifest::Script(_) => true,
            })
            .collect()
    }

    /// The program to grade for `lesson`. Words of a `run.toml` command that name a file in the
    /// student folder `dir` (and a first word with a `/`) are taken relative to the folder.
    pub fn target(&self, dir: &Path, lesson: &str) -> Result<Target, String> {
        match self {
            Manifest::Script(script) => {
                Ok(Target::new([shown_path(script, true), lesson.to_string()]))
            }
            Manifest::Commands(commands) => {
                let line = commands
                    .get(lesson)
                    .ok_or_else(|| format!("{MANIFEST} has no line for {lesson}"))?;
                let words = Target::parse(line).map_err(|e| format!("{MANIFEST}: {e}"))?;
                // The sandbox lets a program read the folders its command line names: a
                // manifest naming a classmate's folder (`../bob/echo.py`) would open it.
                if let Some(word) = outside(dir, words.argv()) {
                    return Err(format!(
                        "{MANIFEST}: `{word}` is outside the student's folder; a program may \
                         read only its own folder (and the system)"
                    ));
                }
                Ok(Target::new(words.argv().iter().enumerate().map(
                    |(i, word)| {
                        let path = Path::new(word);
                        let joined = dir.join(path);
                        let is_path = (i == 0 && word.contains('/')) || joined.exists();
                        if path.is_absolute() || word.starts_with('-') || !is_path {
                            word.clone()
                        } else {
                            shown_path(&joined, i == 0)
                        }
                    },
                )))
            }
        }
    }
}

/// The first word of `argv` that names an existing file or folder outside the student folder
/// `dir` and outside the system (`/usr/bin/python3` is the system's; `/home/bob/bin/run`, or
/// `../bob/run`, is not: the sandbox would open its folder to the program). The
/// workbook's own programs are public, as the book is: its Python versions, its wrong programs
/// and its lesson binaries (the sample class `examples/students/` runs them).
fn outside<'a>(dir: &Path, argv: &'a [String]) -> Option<&'a str> {
    let home = dir.canonicalize().ok()?;
    use crate::checker::harness::sandbox;
    let public: Vec<PathBuf> = [
        sandbox::reference_programs(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
    ]
    .into_iter()
    .chain(sandbox::lesson_binaries())
    .filter_map(|p| p.canonicalize().ok())
    .collect();
    argv.iter().enumerate().find_map(|(i, word)| {
        let path = Path::new(word);
        if word.starts_with('-') || (i == 0 && !word.contains('/')) {
            return None; // a flag, or a program found on the PATH
        }
        let named = dir.join(path);
        // A named pipe opens only itself, and the shared temporary folders are never opened
        // (see the sandbox): naming them reads nothing of anyone's.
        if sandbox::is_fifo(&named) || sandbox::SHARED.iter().any(|s| named == Path::new(s)) {
            return None;
        }
        let real = named.canonicalize().ok()?;
        let system = sandbox::SYSTEM_READ.iter().any(|s| real.starts_with(s));
        let allowed =
            system || real.starts_with(&home) || public.iter().any(|p| real.starts_with(p));
        (!allowed).then_some(word.as_str())
    })
}

/// `path` as the grader shows and runs it: relative to the current directory when inside it
/// (shorter evidence), else absolute. A program (`first`) always gets a `/`, so it is never
/// looked up in `PATH`.
fn shown_path(path: &Path, first: bool) -> String {
    let absolute = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| absolute.strip_prefix(cwd).ok().map(Path::to_path_buf));
    match relative {
        Some(r) if first && r.parent() == Some(Path::new("")) => {
            format!("./{}", r.display())
        }
        Some(r) if !r.as_os_str().is_empty() => r.display().to_string(),
        _ => absolute.display().to_string(),
    }
}

fn lesson_names() -> String {
    LESSONS
        .iter()
        .map(|l| l.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One student folder.
#[derive(Clone, Debug)]
pub struct Student {
    /// The folder's name.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// Its manifest, or why it has none that works.
    pub manifest: Result<Manifest, String>,
}

impl Student {
    /// The student whose folder is `dir`.
    pub fn load(dir: &Path) -> Student {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        let manifest = Manifest::load(&dir);
        Student {
            name,
            dir,
            manifest,
        }
    }

    /// The program to grade for `lesson`, or why there is none.
    pub fn target(&self, lesson: &str) -> Result<Target, String> {
        self.manifest
            .as_ref()
            .map_err(Clone::clone)?
            .target(&self.dir, lesson)
    }

    /// The lessons the student has a program for.
    pub fn lessons(&self) -> Vec<&'static Lesson> {
        self.manifest
            .as_ref()
            .map(Manifest::lessons)
            .unwrap_or_default()
    }
}

/// Every student folder in `class` (its sub-folders not starting with `.`), by name.
pub fn class(dir: &Path) -> Result<Vec<Student>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut folders: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    folders.sort();
    if folders.is_empty() {
        return Err(format!(
            "{} holds no student folders (one folder per student, each with a {MANIFEST})",
            dir.display()
        ));
    }
    Ok(folders.iter().map(|f| Student::load(f)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lessons_are_found_by_name_number_or_topic() {
        for name in ["02_echo", "02", "2", "echo"] {
            assert_eq!(find_lesson(name).map(|l| l.name), Some("02_echo"), "{name}");
        }
        assert_eq!(find_lesson("07").map(|l| l.name), Some("07_event_loop"));
        assert!(find_lesson("99").is_none());
        assert!(find_lesson("").is_none());
    }

    #[test]
    fn manifests_name_lessons_and_commands() {
        let ok = Manifest::parse(
            "# ana\n01_time_server = \"python3 time.py\"\n02_echo = 'python3 \"my echo.py\"'\n",
        )
        .unwrap();
        assert_eq!(ok["02_echo"], "python3 \"my echo.py\"");
        let typo = Manifest::parse("02-echo = \"python3 echo.py\"").unwrap_err();
        assert!(typo.contains("`02-echo` is not a lesson"), "{typo}");
        let number = Manifest::parse("02_echo = 2").unwrap_err();
        assert!(number.contains("in quotes"), "{number}");
        let broken = Manifest::parse("02_echo = \"python3").unwrap_err();
        assert!(broken.starts_with("run.toml:"), "{broken}");
    }

    #[test]
    fn manifest_paths_are_relative_to_the_student_folder() {
        let dir = std::env::temp_dir().join(format!("grade-unit-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("echo.py"), "").unwrap();
        let manifest = Manifest::Commands(BTreeMap::from([(
            "02_echo".to_string(),
            "python3 -u echo.py --upper bin/echo".to_string(),
        )]));
        let target = manifest.target(&dir, "02_echo").unwrap();
        let argv = target.argv();
        assert_eq!(argv[0], "python3", "a program on PATH stays as is");
        assert_eq!(argv[1], "-u");
        assert!(
            Path::new(&argv[2]).is_absolute() && argv[2].ends_with("/echo.py"),
            "{argv:?}"
        );
        assert_eq!(argv[3], "--upper");
        assert_eq!(argv[4], "bin/echo", "not a file: left alone");
        let missing = manifest.target(&dir, "01_time_server").unwrap_err();
        assert_eq!(missing, "run.toml has no line for 01_time_server");
        // A classmate's folder, or the teacher's, is not the student's to name.
        let classmate = dir.with_extension("bob");
        std::fs::create_dir_all(&classmate).unwrap();
        std::fs::write(classmate.join("echo.py"), "").unwrap();
        let bob = format!(
            "../{}/echo.py",
            classmate.file_name().unwrap().to_str().unwrap()
        );
        let absolute = classmate.join("echo.py").display().to_string();
        for line in [
            format!("python3 {bob}"),
            bob.clone(),
            "python3 x.py /root".into(),
            absolute,
        ] {
            let manifest = Manifest::Commands(BTreeMap::from([("02_echo".to_string(), line)]));
            let refused = manifest.target(&dir, "02_echo").unwrap_err();
            assert!(
                refused.contains("is outside the student's folder"),
                "{refused}"
            );
        }
        std::fs::remove_dir_all(&classmate).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
