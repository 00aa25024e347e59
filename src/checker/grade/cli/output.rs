//! `--output FILE`, written safely: the path is refused when it is a symbolic link or not a
//! regular file (a FIFO would hang grade, a device or a link would write elsewhere than the
//! teacher meant), checked before grading and again when writing; the content goes to a new
//! temporary file in the same folder (created exclusively, never following a link: the
//! `tempfile` crate), which is then renamed over FILE. A rename replaces the name itself, never
//! what a link points to, and a reader never sees half a file.

use std::io::Write;
use std::path::Path;

use super::Stop;

/// Whether `file` may be written: it does not exist, or it is a regular file (not a symbolic
/// link, FIFO, device, socket or folder).
pub fn check(file: &Path) -> Result<(), Stop> {
    let Ok(meta) = std::fs::symlink_metadata(file) else {
        return Ok(());
    };
    let kind = meta.file_type();
    let what = if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a folder"
    } else {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        }
    };
    Err(Stop::Failed(
        format!("refusing to write {}: it is {what}", file.display()),
        "name a regular file, or a new one (grade writes a new file and renames it into place; \
         it never writes through a link or into a pipe or device)"
            .into(),
    ))
}

/// Write `content` to `file`: [`check`], then a temporary file beside it, renamed over it.
pub fn write(file: &Path, content: &str) -> Result<(), Stop> {
    check(file)?;
    let failed = |e: std::io::Error| {
        Stop::Failed(
            format!("cannot write {}: {e}", file.display()),
            "check the folder exists and is writable".into(),
        )
    };
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".grade-")
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(failed)?;
    temp.write_all(content.as_bytes())
        .and_then(|()| temp.as_file().sync_all())
        .map_err(failed)?;
    temp.persist(file).map_err(|e| failed(e.error))?;
    Ok(())
}
