//! Saving flags so that no partial or empty file ever exists.
//!
//! A flag is written to a temporary file in the destination folder and then
//! renamed to its final name. A rename within one folder is atomic on every
//! platform we run on, so another program sees either no `BR.gif` or the
//! whole of it, whatever fails or interrupts the run. If the write fails,
//! the temporary file is removed when its handle is dropped.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The prefix of the temporary files [`save_flag`] writes, so that tests can
/// check none is left behind.
pub const TEMP_PREFIX: &str = ".flag-";

/// The longest file name [`country_file_name`] accepts, in bytes, before
/// `.gif`.
pub const MAX_NAME_BYTES: usize = 100;

/// The file a code's flag is saved as: `{CC}.gif`, upper case.
///
/// ```
/// assert_eq!(flags_core::save::flag_file_name("br"), "BR.gif");
/// ```
pub fn flag_file_name(country_code: &str) -> String {
    format!("{}.gif", country_code.to_ascii_uppercase())
}

/// A country name that cannot be a file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsafe country name {name:?}: {reason}")]
pub struct BadFileName {
    /// The name as the server sent it (cut to 40 characters).
    pub name: String,
    /// Why it was refused.
    pub reason: &'static str,
}

/// The file a flag is saved as with `--metadata`: the country name with
/// spaces turned to `_`, then `.gif`.
///
/// The name comes from the server, so it is treated as hostile: it must be
/// non-empty, at most [`MAX_NAME_BYTES`] long, and hold no path separator,
/// no control character, and no `..`; a name starting with `.` is refused
/// too (hidden files, `.` and `..`). Together these keep every saved file
/// inside `--dest`.
///
/// ```
/// use flags_core::save::country_file_name;
/// assert_eq!(country_file_name("South Korea").unwrap(), "South_Korea.gif");
/// assert!(country_file_name("../../x").is_err());
/// assert!(country_file_name("a/b").is_err());
/// assert!(country_file_name("").is_err());
/// assert!(country_file_name(&"x".repeat(10_000)).is_err());
/// ```
pub fn country_file_name(country_name: &str) -> Result<String, BadFileName> {
    let refuse = |reason| BadFileName {
        name: country_name.chars().take(40).collect(),
        reason,
    };
    let name = country_name.trim();
    if name.is_empty() {
        return Err(refuse("empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(refuse("too long"));
    }
    if name.chars().any(|character| character.is_control()) {
        return Err(refuse("control character"));
    }
    if name.contains(['/', '\\', ':']) {
        return Err(refuse("path separator"));
    }
    if name.starts_with('.') || name.contains("..") {
        return Err(refuse("dot name"));
    }
    Ok(format!("{}.gif", name.replace(' ', "_")))
}

/// Save `image` as `dest_dir/file_name`, atomically, and return its length.
///
/// `file_name` must be a plain file name (no separator); anything else is
/// refused with [`io::ErrorKind::InvalidInput`], so that no caller can write
/// outside `dest_dir` by mistake.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let bytes = flags_core::save::save_flag(dir.path(), "BR.gif", b"GIF89a").unwrap();
/// assert_eq!(bytes, 6);
/// assert_eq!(std::fs::read(dir.path().join("BR.gif")).unwrap(), b"GIF89a");
/// ```
pub fn save_flag(dest_dir: &Path, file_name: &str, image: &[u8]) -> io::Result<u64> {
    let target = plain_child(dest_dir, file_name)?;
    // The temporary file lives in the destination folder itself: a rename
    // is only atomic within one file system.
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).suffix(".tmp");
    // A temporary file is private (0600) by default; a saved flag should
    // get the usual permissions of a new file (0666 less the umask).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut temporary = builder.tempfile_in(dest_dir)?;
    temporary.write_all(image)?;
    temporary.flush()?;
    // `persist` renames over any older flag of the same name. On error the
    // temporary file is still owned by the error and removed on drop.
    temporary.persist(&target).map_err(|error| error.error)?;
    Ok(image.len() as u64)
}

/// `dest_dir/file_name`, if `file_name` is one plain path component.
fn plain_child(dest_dir: &Path, file_name: &str) -> io::Result<PathBuf> {
    let mut components = Path::new(file_name).components();
    match (components.next(), components.next()) {
        (Some(std::path::Component::Normal(name)), None) if name == file_name => {
            Ok(dest_dir.join(name))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a plain file name: {file_name:?}"),
        )),
    }
}

/// Make sure `dest_dir` exists and can be written to, creating it if
/// needed. Called once before a run, so that a bad `--dest` is one clear
/// error instead of one error per flag.
pub fn prepare_dest(dest_dir: &Path) -> io::Result<()> {
    if dest_dir.exists() && !dest_dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "it exists and is not a directory",
        ));
    }
    std::fs::create_dir_all(dest_dir)?;
    if !dest_dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        ));
    }
    // Writing a probe file is the only reliable test: permission bits do not
    // tell about read-only mounts or root.
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dest_dir)
        .map(drop)
}
