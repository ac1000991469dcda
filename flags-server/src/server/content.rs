//! What the server serves: the resources its paths name, and where their
//! bytes come from (the built-in flags, or a directory).
//!
//! Paths are parsed strictly: only `/flags/{cc}/{cc}.gif` and
//! `/flags/{cc}/metadata.json` with a lower-case two-letter code name a
//! resource, which also rules out `..`, `%2e` and every other way out of a
//! `--dir` directory before any file is touched. A file of the directory is
//! served only if, once every symbolic link is resolved, it is still inside.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::images::{builtin_flag, builtin_metadata, metadata_with_name};

/// Where the flags and metadata come from.
#[derive(Debug)]
pub(super) enum Content {
    /// The generated ones of [`crate::images`].
    Builtin,
    /// A directory, canonicalised at start: `{root}/{cc}/{cc}.gif`, and
    /// the files of it already read.
    Dir {
        /// The directory served, canonical (every symbolic link resolved):
        /// no file outside it is served.
        root: PathBuf,
        /// The files read so far, each kept with what identifies it on
        /// disk, so that a request for an unchanged file costs one `stat`
        /// and no read, no copy.
        cache: DirCache,
    },
}

impl Content {
    /// The files of `root` (canonical), none read yet.
    pub(super) fn dir(root: PathBuf) -> Content {
        Content::Dir {
            root,
            cache: DirCache::default(),
        }
    }
}

/// The largest file the cache keeps; a larger one is read at each request.
/// A flag is 1 to 40 KB; the cache holds at most two files per code, so at
/// most 676 x 2 entries.
const CACHED_FILE_MAX: u64 = 1024 * 1024;

/// The `--dir` files already read, by code and file.
///
/// Reading a file for each request would cost a hop to tokio's blocking
/// pool, every symbolic link resolved, the file read and copied. Here a
/// request looks the path up with one `stat`, done on the worker itself: a file that is the
/// same one as when it was read (same device, inode, size and modification
/// time, so the same file even if the path was swapped for a link) is
/// answered from memory, as a shared [`Bytes`]; no file is 404 at once;
/// anything else (a new or changed file) is read on the blocking pool, as
/// before, and checked to be inside the directory.
///
/// The `stat` blocks the worker: on a local disk, with the directory in the
/// kernel's caches, for a few microseconds, much less than the hop to a
/// blocking thread and back (nginx opens and reads its files on its event
/// loop too). On a slow network file system it would stall the worker.
#[derive(Debug, Default)]
pub(super) struct DirCache {
    files: std::sync::Mutex<std::collections::HashMap<(Code, bool), CachedFile>>,
}

/// One file of the cache: its bytes and what identifies it on disk.
#[derive(Debug, Clone)]
struct CachedFile {
    identity: FileIdentity,
    bytes: Bytes,
}

/// What tells one version of a file from another, from `stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    device: u64,
    inode: u64,
    size: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileIdentity {
    #[cfg(unix)]
    fn of(metadata: &std::fs::Metadata) -> FileIdentity {
        use std::os::unix::fs::MetadataExt;
        FileIdentity {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }

    #[cfg(not(unix))]
    fn of(metadata: &std::fs::Metadata) -> FileIdentity {
        // No inode to go by: the size and time alone.
        FileIdentity {
            device: 0,
            inode: 0,
            size: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

impl DirCache {
    /// The file at `path` for `key`: from memory if it is the file read
    /// before, else read (on the blocking pool) and kept. `None` for no
    /// such file, or one outside `root`.
    async fn load(&self, key: (Code, bool), root: &Path, path: PathBuf) -> Option<Bytes> {
        // Look the path up (following links), on this worker: a file that
        // is not there is a 404 without further ado.
        let metadata = std::fs::metadata(&path).ok()?;
        let identity = FileIdentity::of(&metadata);
        if let Some(cached) = self.lock().get(&key) {
            if cached.identity == identity {
                // The same file as when it was read and checked: a shared
                // `Bytes`, no copy.
                return Some(cached.bytes.clone());
            }
        }
        // New or changed: read it where blocking is allowed, checking that
        // it is inside the directory.
        let root = root.to_path_buf();
        let (bytes, read_identity) = tokio::task::spawn_blocking(move || read_inside(&root, &path))
            .await
            .ok()??;
        let bytes = Bytes::from(bytes);
        if read_identity.size <= CACHED_FILE_MAX {
            let cached = CachedFile {
                identity: read_identity,
                bytes: bytes.clone(),
            };
            self.lock().insert(key, cached);
        }
        Some(bytes)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<(Code, bool), CachedFile>> {
        // A panic while the lock was held cannot leave the map half
        // updated (one insert or one lookup): go on with it.
        self.files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a path under `/flags/` asks for. The code is held by value (two
/// bytes), so a resource outlives the request it was parsed from (a
/// delayed request lets go of its request before it waits), and parsing
/// allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resource {
    /// `/flags/{cc}/{cc}.gif`
    Flag(Code),
    /// `/flags/{cc}/metadata.json`
    Metadata(Code),
}

impl Resource {
    /// The lower-case country code the resource belongs to.
    pub(super) fn code(self) -> Code {
        match self {
            Resource::Flag(code) | Resource::Metadata(code) => code,
        }
    }
}

/// A country code as a path names it: two lower-case ASCII letters, held
/// by value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Code([u8; 2]);

impl Code {
    /// The code `text` is, if it is one ([`is_country_code`]).
    pub(super) fn parse(text: &str) -> Option<Code> {
        match *text.as_bytes() {
            [first, second] if is_country_code(text) => Some(Code([first, second])),
            _ => None,
        }
    }

    /// The code as text, such as `br`.
    pub(super) fn as_str(&self) -> &str {
        // Two ASCII letters (checked by `parse`, the only way to make a
        // code) are always valid UTF-8: the empty fallback is never used.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for Code {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// True for a lower-case two-letter code such as `br`: the only codes the
/// server knows, which also rules out `..`, `%2e` and any other trick.
pub(super) fn is_country_code(text: &str) -> bool {
    text.len() == 2 && text.bytes().all(|byte| byte.is_ascii_lowercase())
}

/// Parses `/flags/{cc}/{cc}.gif` or `/flags/{cc}/metadata.json`.
pub(super) fn parse_resource(path: &str) -> Option<Resource> {
    let rest = path.strip_prefix("/flags/")?;
    let (text, file) = rest.split_once('/')?;
    let code = Code::parse(text)?;
    if file == "metadata.json" {
        Some(Resource::Metadata(code))
    } else if file.strip_suffix(".gif") == Some(text) {
        Some(Resource::Flag(code))
    } else {
        None
    }
}

impl Content {
    /// Loads the bytes and content type of a resource, or `None` (404).
    ///
    /// A built-in flag is a [`Bytes`] over the `'static` GIF painted at
    /// start: no copy, no allocation, however many requests share it.
    /// `country_names` replaces built-in country names in `metadata.json`.
    pub(super) async fn load(
        &self,
        resource: Resource,
        country_names: &BTreeMap<String, String>,
    ) -> Option<(Bytes, &'static str)> {
        let code = resource.code();
        let code = code.as_str();
        let content_type = match resource {
            Resource::Flag(_) => "image/gif",
            Resource::Metadata(_) => "application/json",
        };
        match self {
            Content::Builtin => {
                let bytes = match resource {
                    Resource::Flag(_) => Bytes::from_static(builtin_flag(code)?),
                    Resource::Metadata(_) => Bytes::from(match country_names.get(code) {
                        Some(name) => metadata_with_name(code, name)?,
                        None => builtin_metadata(code)?,
                    }),
                };
                Some((bytes, content_type))
            }
            Content::Dir { root, cache } => {
                let (file, is_flag) = match resource {
                    Resource::Flag(_) => (format!("{code}.gif"), true),
                    Resource::Metadata(_) => ("metadata.json".to_owned(), false),
                };
                let path = root.join(code).join(file);
                // File reads block the thread, so a file not read before
                // is read on tokio's pool of blocking threads, and the
                // workers stay free for sockets; see `DirCache`.
                let bytes = cache.load((resource.code(), is_flag), root, path).await?;
                Some((bytes, content_type))
            }
        }
    }

    /// How many flags there are: 194 for the built-in data, the number of
    /// `{cc}/{cc}.gif` files for a directory.
    pub(super) fn flag_count(&self) -> usize {
        match self {
            Content::Builtin => flags_core::countries::ALL_COUNTRIES.len(),
            Content::Dir { root, .. } => count_flags_in(root),
        }
    }
}

/// Reads `path` if, once every symbolic link is resolved, it is a file
/// inside `root` (itself canonical), with what identifies the file read.
/// Anything else reads as absent.
fn read_inside(root: &Path, path: &Path) -> Option<(Vec<u8>, FileIdentity)> {
    let real_path = path.canonicalize().ok()?;
    if !real_path.starts_with(root) {
        return None;
    }
    // Open once, and take the identity from the open file: the bytes and
    // the identity are the same file's, whatever is renamed meanwhile.
    let mut file = std::fs::File::open(real_path).ok()?;
    let metadata = file.metadata().ok()?;
    if !metadata.is_file() {
        return None;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    std::io::Read::read_to_end(&mut file, &mut bytes).ok()?;
    Some((bytes, FileIdentity::of(&metadata)))
}

/// The canonical form of the `--dir` directory, or an error naming it.
pub(super) fn canonical_dir(dir: &Path) -> io::Result<PathBuf> {
    let describe = |error: io::Error| {
        io::Error::new(
            error.kind(),
            format!("cannot serve {}: {error}", dir.display()),
        )
    };
    let root = dir.canonicalize().map_err(describe)?;
    if !root.is_dir() {
        return Err(describe(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    Ok(root)
}

/// Counts the `{cc}/{cc}.gif` files of a flag directory.
fn count_flags_in(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|code| is_country_code(code))
        .filter(|code| read_inside(root, &root.join(code).join(format!("{code}.gif"))).is_some())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code `br`.
    fn br() -> Code {
        Code::parse("br").expect("`br` is a code")
    }

    /// Only the two shapes of path name a resource, and only with a
    /// lower-case two-letter code.
    #[test]
    fn paths_parse_strictly() {
        assert_eq!(
            parse_resource("/flags/br/br.gif"),
            Some(Resource::Flag(br()))
        );
        assert_eq!(
            parse_resource("/flags/br/metadata.json"),
            Some(Resource::Metadata(br()))
        );
        for bad in [
            "/flags/br/us.gif",
            "/flags/BR/BR.gif",
            "/flags/br/br.gif/",
            "/flags/br/br.png",
            "/flags/../br.gif",
            "/flags/%2e%2e/%2e%2e.gif",
            "/flags/bra/bra.gif",
            "/flags/br",
            "/br/br.gif",
            "/flags//br.gif",
        ] {
            assert_eq!(parse_resource(bad), None, "{bad}");
        }
        // `handle` passes the path without its query string; a query left
        // on would not name a resource.
        let uri: hyper::Uri = "/flags/br/br.gif?hop=3".parse().expect("a URI");
        assert_eq!(parse_resource(uri.path()), Some(Resource::Flag(br())));
        assert_eq!(parse_resource("/flags/br/br.gif?hop=3"), None);
    }

    /// A code is exactly two lower-case ASCII letters, and reads back as
    /// the text it was parsed from.
    #[test]
    fn codes_parse_strictly() {
        for bad in ["", "b", "bra", "BR", "b1", "é", "..", "b "] {
            assert_eq!(Code::parse(bad), None, "{bad:?}");
        }
        assert_eq!(br().as_str(), "br");
        assert_eq!(Code::parse("zz").map(|code| code.as_str().len()), Some(2));
    }
}
