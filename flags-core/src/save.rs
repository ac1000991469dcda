//! Saving flags so that no partial or empty file ever exists.
//!
//! A flag is written to a temporary file in the destination folder and then
//! renamed to its final name. A rename within one folder is atomic on every
//! platform we run on, so another program sees either no `BR.gif` or the
//! whole of it, whatever fails or interrupts the run. If the write fails,
//! the temporary file is removed when its handle is dropped. A process
//! killed with SIGKILL runs no drop, so its temporary file would stay: its
//! name holds the process id, and whoever reaps the killed process removes
//! it with [`remove_temporary_files`].
//!
//! [`save_flag`] does both steps in one process. The two steps are also
//! there one by one, for a process that writes a flag and another that
//! decides whether it counts: [`write_temporary`] writes the whole file
//! under its temporary name ([`TemporaryFlag`]), and [`commit`] renames a
//! temporary file, named by its file name, into place (the process model's
//! workers write, their parent commits).

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};
use icu_properties::props::{BinaryProperty, DefaultIgnorableCodePoint};

/// The prefix of the temporary files [`save_flag`] and [`write_temporary`]
/// write, so that tests can check none is left behind. The full name is
/// `.flag-{pid}-{random}.tmp` ([`temp_prefix_of`]).
pub const TEMP_PREFIX: &str = ".flag-";

/// The longest file name [`country_file_name`] accepts, in bytes, before
/// `.gif`.
pub const MAX_NAME_BYTES: usize = 100;

/// Unicode's bidirectional formatting characters, which
/// [`country_file_name`] refuses by name: they reorder how the rest of a
/// name is displayed (the "Trojan Source" trick), so a file name holding
/// one may not read as what it is. The embeddings and overrides
/// U+202A..U+202E, the isolates U+2066..U+2069, and the marks U+200E,
/// U+200F and U+061C. Each is also [default-ignorable](is_default_ignorable).
pub const BIDI_FORMATTING: [char; 12] = [
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
];

/// The file a code's flag is saved as: `{CC}.gif`, upper case.
///
/// ```
/// assert_eq!(flags_core::save::flag_file_name("br"), "BR.gif");
/// ```
pub fn flag_file_name(country_code: &str) -> String {
    format!("{}.gif", country_code.to_ascii_uppercase())
}

/// Whether `character` is one of Unicode's default-ignorable code points
/// (the Default_Ignorable_Code_Point property, from ICU4X's tables): the
/// characters a text renderer shows as nothing when it does not support
/// them. Zero-width space, joiner and non-joiner, soft hyphen, the byte
/// order mark, the combining grapheme joiner U+034F, variation selectors,
/// the bidi marks, the Hangul fillers, tags, and the code points kept for
/// more of the same.
///
/// ```
/// use flags_core::save::is_default_ignorable;
/// for invisible in ['\u{200B}', '\u{AD}', '\u{FEFF}', '\u{34F}', '\u{FE0F}', '\u{202E}', '\u{3164}'] {
///     assert!(is_default_ignorable(invisible), "{invisible:?}");
/// }
/// for visible in ['B', ' ', 'é', '\u{301}', '-'] {
///     assert!(!is_default_ignorable(visible), "{visible:?}");
/// }
/// ```
pub fn is_default_ignorable(character: char) -> bool {
    DefaultIgnorableCodePoint::for_char(character)
}

/// `text` in NFC, Unicode's canonical composition: one spelling for
/// canonically equivalent texts (`é` as one character, not `e` and a
/// combining accent).
fn nfc(text: &str) -> Cow<'_, str> {
    ComposingNormalizerBorrowed::new_nfc().normalize(text)
}

/// `text` in NFD, Unicode's canonical decomposition.
fn nfd(text: &str) -> Cow<'_, str> {
    DecomposingNormalizerBorrowed::new_nfd().normalize(text)
}

/// `text` quoted as `{:?}` quotes it, with the default-ignorable
/// characters that `{:?}` leaves as they are (U+3164 HANGUL FILLER is a
/// letter to it) escaped too: an error naming a hostile name shows every
/// character of it, and is safe to print.
fn quoted(text: &str) -> String {
    let debug = format!("{text:?}");
    if !debug.chars().any(is_default_ignorable) {
        return debug;
    }
    debug
        .chars()
        .map(|character| {
            if is_default_ignorable(character) {
                format!("\\u{{{:x}}}", u32::from(character))
            } else {
                character.to_string()
            }
        })
        .collect()
}

/// A country name that cannot be a file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsafe country name {}: {reason}", quoted(name))]
pub struct BadFileName {
    /// The name as the server sent it (cut to 40 characters).
    pub name: String,
    /// Why it was refused.
    pub reason: &'static str,
}

/// The file a flag is saved as with `--metadata`: the country name in NFC
/// with spaces turned to `_`, then `.gif`.
///
/// The name comes from the server, so it is treated as hostile: it must be
/// non-empty, at most [`MAX_NAME_BYTES`] long, and hold no path separator
/// and no `..`; a name starting with `.` is refused too (hidden files, `.`
/// and `..`). Together these keep every saved file inside `--dest`.
///
/// It must also hold no control character (anywhere, even at an end that
/// trimming would remove) and no [default-ignorable](is_default_ignorable)
/// one, [`BIDI_FORMATTING`] among them: those cannot leave `--dest`, but
/// they make a listing lie (U+202E, right-to-left override, makes the file
/// `\u{202E}lizarB.gif` display as `fig.Brazil`; a zero-width space makes
/// `Bra\u{200B}zil.gif` list as a second `Brazil.gif`) or a terminal
/// misbehave (`\u{1b}[2J` clears it). The error quotes the name as `{:?}`
/// does, invisible characters escaped, so printing it is safe too.
///
/// The name is saved in NFC: a server's decomposed `Co\u{302}te d'Ivoire`
/// (`o` and a combining circumflex) and a composed `Côte d'Ivoire` are one
/// file, `Côte_d'Ivoire.gif`, as they are one name.
///
/// ```
/// use flags_core::save::country_file_name;
/// assert_eq!(country_file_name("South Korea").unwrap(), "South_Korea.gif");
/// assert!(country_file_name("../../x").is_err());
/// assert!(country_file_name("a/b").is_err());
/// assert!(country_file_name("").is_err());
/// assert!(country_file_name(&"x".repeat(10_000)).is_err());
/// // Control characters, even where trimming would drop them.
/// assert!(country_file_name("\u{7}Brazil").is_err());
/// assert!(country_file_name("Brazil\n").is_err());
/// assert!(country_file_name("\u{1b}[31mBrazil").is_err());
/// // Bidirectional formatting characters, each one.
/// for bidi in flags_core::save::BIDI_FORMATTING {
///     assert!(country_file_name(&format!("Brazil{bidi}fig.exe")).is_err());
/// }
/// assert_eq!(
///     country_file_name("\u{202E}lizarB").unwrap_err().to_string(),
///     r#"unsafe country name "\u{202e}lizarB": bidirectional formatting character"#
/// );
/// // Every other invisible character: zero-width space, soft hyphen, BOM,
/// // combining grapheme joiner, a variation selector, a Hangul filler.
/// for invisible in ['\u{200B}', '\u{AD}', '\u{FEFF}', '\u{34F}', '\u{FE0F}', '\u{3164}'] {
///     assert!(country_file_name(&format!("Bra{invisible}zil")).is_err());
/// }
/// assert_eq!(
///     country_file_name("Bra\u{3164}zil").unwrap_err().to_string(),
///     r#"unsafe country name "Bra\u{3164}zil": invisible (default-ignorable) character"#
/// );
/// // One name, two spellings: one file name, in NFC.
/// assert_eq!(country_file_name("Co\u{302}te d'Ivoire").unwrap(), "Côte_d'Ivoire.gif");
/// // Letters of any script are fine.
/// assert_eq!(country_file_name("Côte d'Ivoire").unwrap(), "Côte_d'Ivoire.gif");
/// assert_eq!(country_file_name("مصر").unwrap(), "مصر.gif");
/// ```
pub fn country_file_name(country_name: &str) -> Result<String, BadFileName> {
    let refuse = |reason| BadFileName {
        name: country_name.chars().take(40).collect(),
        reason,
    };
    // Invisible characters are looked for in the whole name, before
    // trimming: a name the server sent with one is not to be trusted.
    if country_name.chars().any(char::is_control) {
        return Err(refuse("control character"));
    }
    if country_name.contains(BIDI_FORMATTING) {
        return Err(refuse("bidirectional formatting character"));
    }
    if country_name.chars().any(is_default_ignorable) {
        return Err(refuse("invisible (default-ignorable) character"));
    }
    // Every check below is made on the name as it will be saved.
    let name = nfc(country_name.trim());
    let name = name.as_ref();
    if name.is_empty() {
        return Err(refuse("empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(refuse("too long"));
    }
    if name.contains(['/', '\\', ':']) {
        return Err(refuse("path separator"));
    }
    if name.starts_with('.') || name.contains("..") {
        return Err(refuse("dot name"));
    }
    Ok(format!("{}.gif", name.replace(' ', "_")))
}

/// The file names already claimed in one run, each by the code that claimed
/// it first: with `--metadata`, two codes whose country names give the same
/// file would otherwise overwrite each other's flag, one after the other,
/// and both be counted as saved.
///
/// [`claim`](Self::claim) checks and records a name in one step, under a
/// lock, so that however many tasks or threads claim at once, exactly one
/// wins each name. Claim before saving, and save only what was won: then
/// every flag counted as saved is a file of its own. A file that was in the
/// folder before the run is not a claim: it is overwritten, as any flag is.
///
/// Names are compared case-folded, as the file names they become: on a
/// case-insensitive file system (macOS and Windows by default) `Brazil.gif`
/// and `BRAZIL.gif` are one file. They are also compared in NFC, so the
/// two spellings of `é` (one character, or `e` and a combining accent) are
/// one name, as they are one file on a file system that normalizes (APFS)
/// and one file name once [`country_file_name`] has made it.
///
/// ```
/// use flags_core::save::NameClaims;
/// let claims = NameClaims::default();
/// assert!(claims.claim("BR", "Brazil", "Brazil.gif").is_ok());
/// // The same code again is no conflict.
/// assert!(claims.claim("BR", "Brazil", "Brazil.gif").is_ok());
/// assert_eq!(
///     claims.claim("JP", "Brazil", "Brazil.gif").unwrap_err().to_string(),
///     r#"country name "Brazil" is already used by BR"#
/// );
/// // Another case is the same file on a case-insensitive file system.
/// assert_eq!(
///     claims.claim("DE", "BRAZIL", "BRAZIL.gif").unwrap_err().to_string(),
///     r#"country name "BRAZIL" is already used by BR (as "Brazil")"#
/// );
/// assert!(claims.claim("JP", "Japan", "Japan.gif").is_ok());
/// // Another spelling of the same characters is the same name.
/// assert!(claims.claim("CI", "Côte d'Ivoire", "Côte_d'Ivoire.gif").is_ok());
/// assert_eq!(
///     claims
///         .claim("XX", "Co\u{302}te d'Ivoire", "Co\u{302}te_d'Ivoire.gif")
///         .unwrap_err()
///         .to_string(),
///     r#"country name "Co\u{302}te d'Ivoire" is already used by CI (as "Côte d'Ivoire")"#
/// );
/// ```
#[derive(Debug, Default)]
pub struct NameClaims {
    /// File name case-folded and in NFC ([`claim_key`]) → (code, country
    /// name) of the code that has it.
    /// A `Mutex`, not a `RefCell`: the claims are shared by every task or
    /// thread of the run, and the check and the insert must be one step.
    claimed: std::sync::Mutex<std::collections::HashMap<String, (String, String)>>,
}

impl NameClaims {
    /// Claim `file_name` (made of `country_name`) for `country_code`: `Ok`
    /// if it was free or is already this code's, else [`NameTaken`] naming
    /// the code that has it. The lock is held only for this call (a hash
    /// map lookup and insert), never across a wait or any I/O.
    pub fn claim(
        &self,
        country_code: &str,
        country_name: &str,
        file_name: &str,
    ) -> Result<(), NameTaken> {
        // A panic elsewhere while the lock was held cannot leave the map
        // half updated (an insert is all or nothing), so a poisoned lock is
        // used as it is.
        let mut claimed = self
            .claimed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match claimed.entry(claim_key(file_name)) {
            std::collections::hash_map::Entry::Vacant(free) => {
                free.insert((country_code.to_string(), country_name.to_string()));
                Ok(())
            }
            std::collections::hash_map::Entry::Occupied(taken) => {
                let (owner, owner_name) = taken.get();
                if owner == country_code {
                    return Ok(());
                }
                Err(NameTaken {
                    name: country_name.to_string(),
                    owner: owner.clone(),
                    owner_name: owner_name.clone(),
                })
            }
        }
    }
}

/// A name folded the way a case-insensitive file system may compare it.
/// Upper then lower case folds more than lower case alone (`ß` and `SS`,
/// `ς` and `σ` become one): a false match only refuses a name, a missed one
/// loses a flag.
fn fold_case(name: &str) -> String {
    name.to_uppercase().to_lowercase()
}

/// What [`NameClaims`] compares: the name case-folded and in NFC. Folded
/// from NFD, as Unicode's canonical caseless match does, since a few
/// case mappings differ between the composed and decomposed spellings.
fn claim_key(name: &str) -> String {
    nfc(&fold_case(&nfd(name))).into_owned()
}

/// A country name whose file another code of the run has already claimed
/// (see [`NameClaims`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "country name {} is already used by {owner}{}",
    quoted(name),
    differently(name, owner_name)
)]
pub struct NameTaken {
    /// The name the later code was given.
    pub name: String,
    /// The code that claimed the file first.
    pub owner: String,
    /// The name that code was given (the same, or the same but for case or
    /// `_` for spaces).
    pub owner_name: String,
}

/// ` (as "Brazil")` when the first code's name is spelled differently.
fn differently(name: &str, owner_name: &str) -> String {
    if name == owner_name {
        String::new()
    } else {
        format!(" (as {})", quoted(owner_name))
    }
}

/// Save `image` as `dest_dir/file_name`, atomically, and return its length.
///
/// `file_name` must be a plain file name (no separator); anything else is
/// refused with [`io::ErrorKind::InvalidInput`], so that no caller can write
/// outside `dest_dir` by mistake.
///
/// The two steps of [`write_temporary`] then [`TemporaryFlag::commit`].
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let bytes = flags_core::save::save_flag(dir.path(), "BR.gif", b"GIF89a").unwrap();
/// assert_eq!(bytes, 6);
/// assert_eq!(std::fs::read(dir.path().join("BR.gif")).unwrap(), b"GIF89a");
/// ```
pub fn save_flag(dest_dir: &Path, file_name: &str, image: &[u8]) -> io::Result<u64> {
    write_temporary(dest_dir, file_name, image)?.commit()
}

/// A flag written in full to a temporary file of its destination folder,
/// `.flag-{pid}-{random}.tmp`, and not yet renamed to its own name: what
/// [`write_temporary`] returns. Nothing named like a flag exists yet.
///
/// Dropping it removes the file. [`commit`](Self::commit) renames it into
/// place; [`keep`](Self::keep) leaves it where it is for another process to
/// [`commit`] (or remove), by its [`file_name`](Self::file_name).
#[derive(Debug)]
pub struct TemporaryFlag {
    /// The temporary file; removed when dropped, unless kept.
    temporary: tempfile::TempPath,
    /// Its file name, `.flag-{pid}-{random}.tmp`.
    temporary_name: String,
    /// `dest_dir/file_name`: where it goes, and what errors name.
    target: PathBuf,
    /// How long it is.
    bytes: u64,
}

impl TemporaryFlag {
    /// The temporary file's name in the destination folder, like
    /// `.flag-8307-Xb4kQz.tmp`.
    pub fn file_name(&self) -> &str {
        &self.temporary_name
    }

    /// The flag's length, in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Rename the file to its flag's name, over any older flag of that
    /// name, and return its length. On error the temporary file is removed,
    /// and the error names the flag's file.
    pub fn commit(self) -> io::Result<u64> {
        persist(self.temporary, &self.target)?;
        Ok(self.bytes)
    }

    /// Stop removing the file when this is dropped, and return its path:
    /// the file is now whoever [`commit`]s it, or removes it. For a process
    /// that hands the file over to another (a worker to its parent).
    pub fn keep(self) -> io::Result<PathBuf> {
        self.temporary
            .keep()
            .map_err(|error| naming(&self.target, error.error))
    }
}

/// Write `image` in full to a new temporary file in `dest_dir`, and return
/// it, not yet renamed: the first half of [`save_flag`]. Errors name
/// `dest_dir/file_name`, never the temporary file; on error no file is left.
///
/// `file_name` must be a plain file name, as for [`save_flag`].
///
/// ```
/// use flags_core::save::{TEMP_PREFIX, write_temporary};
/// let dir = tempfile::tempdir().unwrap();
/// let flag = write_temporary(dir.path(), "BR.gif", b"GIF89a").unwrap();
/// assert!(flag.file_name().starts_with(TEMP_PREFIX));
/// assert_eq!(flag.bytes(), 6);
/// // Not there under its own name yet.
/// assert!(!dir.path().join("BR.gif").exists());
/// assert_eq!(flag.commit().unwrap(), 6);
/// assert_eq!(std::fs::read(dir.path().join("BR.gif")).unwrap(), b"GIF89a");
/// ```
pub fn write_temporary(
    dest_dir: &Path,
    file_name: &str,
    image: &[u8],
) -> io::Result<TemporaryFlag> {
    let target = plain_child(dest_dir, file_name)?;
    // The temporary file lives in the destination folder itself: a rename
    // is only atomic within one file system.
    let mut builder = tempfile::Builder::new();
    // `.flag-{pid}-`: if this process is killed before the rename, the
    // process that reaps it can tell which temporary files were its own.
    let prefix = temp_prefix_of(std::process::id());
    builder.prefix(&prefix).suffix(TEMP_SUFFIX);
    // A temporary file is private (0600) by default; a saved flag should
    // get the usual permissions of a new file (0666 less the umask).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    // Errors name the flag's file, not the temporary one, which is gone by
    // the time anyone reads the message.
    let about_target = |error: io::Error| naming(&target, error);
    let mut temporary = builder.tempfile_in(dest_dir).map_err(about_target)?;
    temporary.write_all(image).map_err(about_target)?;
    temporary.flush().map_err(about_target)?;
    // Close the file and keep its path: the file is still removed on drop,
    // until it is committed or kept.
    let temporary = temporary.into_temp_path();
    let temporary_name = temporary
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(TemporaryFlag {
        temporary,
        temporary_name,
        target,
        bytes: image.len() as u64,
    })
}

/// Rename the temporary file `temporary_name` of `dest_dir`, written in full
/// by [`write_temporary`] (in this process or another, which
/// [kept](TemporaryFlag::keep) it), to `dest_dir/file_name`, over any older
/// flag of that name: the second half of [`save_flag`], for the process
/// that decides a flag counts.
///
/// Both names must be plain file names, and `temporary_name` a temporary
/// file's ([`is_temporary_file_name`]), or nothing is touched
/// ([`io::ErrorKind::InvalidInput`]): a flag, or any other file, is never
/// renamed. If the rename fails, the temporary file is removed. Errors name
/// `dest_dir/file_name`.
///
/// ```
/// use flags_core::save::{commit, write_temporary};
/// let dir = tempfile::tempdir().unwrap();
/// let flag = write_temporary(dir.path(), "BR.gif", b"GIF89a").unwrap();
/// let name = flag.file_name().to_string();
/// flag.keep().unwrap();
/// commit(dir.path(), &name, "BR.gif").unwrap();
/// assert_eq!(std::fs::read(dir.path().join("BR.gif")).unwrap(), b"GIF89a");
/// // Gone: the same name cannot be committed twice.
/// assert!(commit(dir.path(), &name, "BR.gif").is_err());
/// // Only temporary files are ever renamed.
/// assert!(commit(dir.path(), "BR.gif", "JP.gif").is_err());
/// assert!(dir.path().join("BR.gif").exists());
/// ```
pub fn commit(dest_dir: &Path, temporary_name: &str, file_name: &str) -> io::Result<()> {
    let target = plain_child(dest_dir, file_name)?;
    if !is_temporary_file_name(temporary_name) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a temporary file name: {temporary_name:?}"),
        ));
    }
    let temporary = plain_child(dest_dir, temporary_name)?;
    // Removed on drop, as a temporary file of this process would be.
    let temporary =
        tempfile::TempPath::try_from_path(temporary).map_err(|error| naming(&target, error))?;
    persist(temporary, &target)
}

/// Rename `temporary` to `target` (over any older file); on error it is
/// removed, and the error names `target`.
fn persist(temporary: tempfile::TempPath, target: &Path) -> io::Result<()> {
    // `persist` renames over any older flag of the same name. On error the
    // temporary file is still owned by the error and removed on drop.
    temporary
        .persist(target)
        .map_err(|error| naming(target, error.error))
}

/// The end of every temporary file's name.
const TEMP_SUFFIX: &str = ".tmp";

/// Whether `name` can be the name of a temporary file of
/// [`write_temporary`]: `.flag-`, then ASCII letters, digits and `-`, `_`,
/// `.` only, then `.tmp`, at most 255 bytes. Such a name is one plain path
/// component, and never a flag's name.
///
/// ```
/// use flags_core::save::is_temporary_file_name;
/// assert!(is_temporary_file_name(".flag-8307-Xb4kQz.tmp"));
/// assert!(!is_temporary_file_name("BR.gif"));
/// assert!(!is_temporary_file_name(".flag-8307-../../x.tmp"));
/// assert!(!is_temporary_file_name(".flag-8307-a b.tmp"));
/// ```
pub fn is_temporary_file_name(name: &str) -> bool {
    name.len() <= 255
        && name.starts_with(TEMP_PREFIX)
        && name.ends_with(TEMP_SUFFIX)
        && name.len() > TEMP_PREFIX.len() + TEMP_SUFFIX.len()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte))
}

/// The start of the names of the temporary files that process `pid`'s
/// [`save_flag`] (and [`write_temporary`]) writes: `.flag-{pid}-`.
///
/// ```
/// assert_eq!(flags_core::save::temp_prefix_of(8307), ".flag-8307-");
/// ```
pub fn temp_prefix_of(pid: u32) -> String {
    format!("{TEMP_PREFIX}{pid}-")
}

/// Remove the temporary files that process `pid` left in `dest_dir`, and
/// return how many there were.
///
/// For the parent of a worker process that was killed (SIGKILL runs no
/// destructor) or died while it saved a flag: call it after the worker has
/// been reaped, so that it can no longer write, and before its pid can be
/// reused by another child of this process. Only `.flag-{pid}-*.tmp` files
/// are touched; a flag is never removed.
///
/// ```
/// use flags_core::save::{remove_temporary_files, temp_prefix_of};
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join(format!("{}x.tmp", temp_prefix_of(42))), b"GIF").unwrap();
/// std::fs::write(dir.path().join(format!("{}x.tmp", temp_prefix_of(420))), b"GIF").unwrap();
/// std::fs::write(dir.path().join("BR.gif"), b"GIF89a").unwrap();
/// assert_eq!(remove_temporary_files(dir.path(), 42).unwrap(), 1);
/// // Another process's temporary file and the flag are still there.
/// assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
/// ```
pub fn remove_temporary_files(dest_dir: &Path, pid: u32) -> io::Result<usize> {
    let prefix = temp_prefix_of(pid);
    let mut removed = 0;
    for entry in std::fs::read_dir(dest_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(TEMP_SUFFIX) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                // Gone meanwhile: nothing left to remove.
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(naming(&entry.path(), error)),
            }
        }
    }
    Ok(removed)
}

/// `error` about `path`, with the system's reason ([`system_reason`]).
fn naming(path: &Path, error: io::Error) -> io::Error {
    let reason = system_reason(&error);
    io::Error::new(error.kind(), format!("{}: {reason}", path.display()))
}

/// The system's reason for `error`, without the temporary file's path that
/// `tempfile` adds to it ("... at path /dest/.flag-x.tmp").
fn system_reason(error: &io::Error) -> String {
    // `tempfile` wraps the system's error in one of its own, private, that
    // prints as "{reason} at path {path}": keep the reason.
    let text = error.to_string();
    match text.find(" at path ") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
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
        .map_err(|error| {
            let reason = system_reason(&error);
            io::Error::new(error.kind(), format!("it cannot be written to ({reason})"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folding upper then lower case makes one name of spellings that
    /// lower case alone keeps apart, as the doc of `fold_case` says.
    #[test]
    fn case_folding_joins_what_lower_case_alone_keeps_apart() {
        assert_eq!(fold_case("Straße"), fold_case("STRASSE"));
        assert_ne!("Straße".to_lowercase(), "STRASSE".to_lowercase());
        assert_eq!(fold_case("ς"), fold_case("σ"));
        assert_eq!(fold_case("Brazil"), fold_case("BRAZIL"));
    }

    /// Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties,
    /// Unicode 16), each checked at both ends: the table we use has them.
    const DEFAULT_IGNORABLE_RANGES: [(u32, u32); 17] = [
        (0x00AD, 0x00AD),
        (0x034F, 0x034F),
        (0x061C, 0x061C),
        (0x115F, 0x1160),
        (0x17B4, 0x17B5),
        (0x180B, 0x180F),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x206F),
        (0x3164, 0x3164),
        (0xFE00, 0xFE0F),
        (0xFEFF, 0xFEFF),
        (0xFFA0, 0xFFA0),
        (0xFFF0, 0xFFF8),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0000, 0xE0FFF),
    ];

    /// Every default-ignorable code point is refused, alone or inside a
    /// name, and the error shows it escaped, never as itself.
    #[test]
    fn every_default_ignorable_character_is_refused() {
        for (first, last) in DEFAULT_IGNORABLE_RANGES {
            for code in [first, last] {
                let character = char::from_u32(code).expect("not a surrogate");
                assert!(is_default_ignorable(character), "U+{code:04X}");
            }
        }
        let mut refused = 0;
        for character in (0..=0x10FFFF).filter_map(char::from_u32) {
            if !is_default_ignorable(character) {
                continue;
            }
            refused += 1;
            let name = format!("Bra{character}zil");
            let error = country_file_name(&name).expect_err(&format!("{character:?}"));
            let message = error.to_string();
            assert!(
                !message.chars().any(is_default_ignorable),
                "{character:?} shown as itself: {message:?}"
            );
            assert!(
                message.contains(&format!("\\u{{{:x}}}", u32::from(character))),
                "{message:?}"
            );
        }
        // Most of them are the 4,096 code points of the tag block and its
        // reserve (U+E0000..U+E0FFF).
        assert!(refused > 4_096, "{refused}");
    }

    /// Canonically equivalent names are one claim, whatever their case;
    /// names that only look alike are not.
    #[test]
    fn claims_compare_names_in_nfc_and_case_folded() {
        assert_eq!(
            claim_key("Côte_d'Ivoire.gif"),
            claim_key("Co\u{302}te_d'Ivoire.gif")
        );
        assert_eq!(
            claim_key("CÔTE_D'IVOIRE.gif"),
            claim_key("co\u{302}te_d'ivoire.gif")
        );
        // Ångström sign U+212B is canonically Å.
        assert_eq!(claim_key("\u{212B}land.gif"), claim_key("Åland.gif"));
        // Look-alikes from another script are other names (and other files).
        assert_ne!(claim_key("\u{410}land.gif"), claim_key("Aland.gif"));
        let claims = NameClaims::default();
        assert!(claims.claim("AX", "Åland", "Åland.gif").is_ok());
        let taken = claims
            .claim("XX", "A\u{30A}land", "A\u{30A}land.gif")
            .expect_err("the same name in NFD");
        assert_eq!(taken.owner, "AX");
    }

    /// The names in `dir`, sorted.
    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("the folder is readable")
            .map(|entry| {
                let entry = entry.expect("an entry");
                entry.file_name().to_string_lossy().into_owned()
            })
            .collect();
        names.sort();
        names
    }

    /// A temporary flag is removed when dropped, unless kept: then it stays,
    /// under its temporary name only, for another process to commit.
    #[test]
    fn temporary_flags_are_removed_on_drop_unless_kept() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let dropped = write_temporary(dir.path(), "BR.gif", b"GIF89a").expect("written");
        assert_eq!(names_in(dir.path()), [dropped.file_name()]);
        drop(dropped);
        assert!(names_in(dir.path()).is_empty());

        let kept = write_temporary(dir.path(), "BR.gif", b"GIF89a").expect("written");
        let name = kept.file_name().to_string();
        assert!(
            name.starts_with(&temp_prefix_of(std::process::id())),
            "{name}"
        );
        assert!(is_temporary_file_name(&name), "{name}");
        let path = kept.keep().expect("kept");
        assert_eq!(path, dir.path().join(&name));
        assert_eq!(names_in(dir.path()), [name.as_str()]);
        commit(dir.path(), &name, "BR.gif").expect("committed");
        assert_eq!(names_in(dir.path()), ["BR.gif"]);
        assert_eq!(
            std::fs::read(dir.path().join("BR.gif")).expect("BR.gif"),
            b"GIF89a"
        );
    }

    /// A commit that cannot rename removes the temporary file, and its
    /// error names the flag's file; a name that is not a temporary file's
    /// touches nothing.
    #[test]
    fn a_failed_commit_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        // A folder where the flag should go: no file can be renamed over it.
        std::fs::create_dir(dir.path().join("BR.gif")).expect("a folder");
        let flag = write_temporary(dir.path(), "BR.gif", b"GIF89a").expect("written");
        let name = flag.file_name().to_string();
        flag.keep().expect("kept");
        let error = commit(dir.path(), &name, "BR.gif").expect_err("BR.gif is a folder");
        let message = error.to_string();
        let target = dir.path().join("BR.gif").display().to_string();
        assert!(message.starts_with(&format!("{target}: ")), "{message}");
        assert!(!message.contains(TEMP_PREFIX), "{message}");
        assert_eq!(names_in(dir.path()), ["BR.gif"]);
        // The same through `TemporaryFlag::commit`, as `save_flag` does.
        let flag = write_temporary(dir.path(), "BR.gif", b"GIF89a").expect("written");
        assert!(flag.commit().is_err());
        assert_eq!(names_in(dir.path()), ["BR.gif"]);

        std::fs::write(dir.path().join("JP.gif"), b"GIF89a").expect("a flag");
        for bad in ["JP.gif", "../JP.gif", ".flag-1-x", ".flag-1-a/b.tmp", ""] {
            let error = commit(dir.path(), bad, "DE.gif").expect_err(bad);
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
        assert_eq!(names_in(dir.path()), ["BR.gif", "JP.gif"]);
    }

    /// A folder nothing can be created in (even by root): `/proc/self`.
    #[cfg(target_os = "linux")]
    const UNWRITABLE: &str = "/proc/self";

    /// The messages name what the user asked for, never the temporary file,
    /// which no longer exists when the message is read.
    #[cfg(target_os = "linux")]
    #[test]
    fn errors_name_the_flag_and_the_folder_not_the_temporary_file() {
        let dest = Path::new(UNWRITABLE);
        let saving = save_flag(dest, "BR.gif", b"GIF89a").expect_err("cannot write there");
        let message = saving.to_string();
        assert!(message.starts_with("/proc/self/BR.gif: "), "{message}");
        assert!(!message.contains(TEMP_PREFIX), "{message}");
        let preparing = prepare_dest(dest).expect_err("cannot write there");
        let message = preparing.to_string();
        assert!(
            message.starts_with("it cannot be written to ("),
            "{message}"
        );
        assert!(!message.contains(TEMP_PREFIX), "{message}");
    }
}
