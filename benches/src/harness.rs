//! The one harness: run a model on a job into a fresh folder, time it, and
//! check afterwards what it saved.
//!
//! As in `rayon-demo`, every variant goes through the same function and the
//! results are checked after timing, so a model that is fast because it
//! skipped work is caught, and the check itself costs the timing nothing.
//! The criterion suite calls [`run_model`]; `flags-compare` runs each model
//! in a child process and calls `inspect_dest` on the folder the child
//! wrote.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flags_core::save::flag_file_name;
use flags_core::{DownloadJob, SetupError, StatusCounter};

use crate::models::Variant;

/// What a destination folder holds after a run, compared file by file with
/// the flags the built-in server serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SavedFlags {
    /// Flags saved byte for byte identical to the server's.
    pub(crate) identical: usize,
    /// Codes the server has a flag for: how many files there should be.
    pub(crate) expected: usize,
    /// Everything that is not as it should be, one line each: a missing or
    /// different flag, a file for a code the server does not have, a file
    /// that is no flag at all (such as a leftover temporary file).
    pub(crate) problems: Vec<String>,
}

impl SavedFlags {
    /// Every expected flag is there, identical, and nothing else is.
    pub(crate) fn is_complete(&self) -> bool {
        self.problems.is_empty() && self.identical == self.expected
    }

    /// Add a problem when the model's own count disagrees with the folder:
    /// it must count as OK exactly the flags it saved, and count every code
    /// once.
    pub(crate) fn check_counter(&mut self, counter: &StatusCounter, code_count: usize) {
        if counter.ok != self.identical {
            self.problems.push(format!(
                "the model counted {} flags OK but {} identical files are saved",
                counter.ok, self.identical
            ));
        }
        if counter.total() != code_count {
            self.problems.push(format!(
                "the model counted {} outcomes for {code_count} codes",
                counter.total()
            ));
        }
    }
}

/// Compare the files in `dest_dir` with the server's built-in flags for
/// `country_codes`: each code the server has must be saved as `{CC}.gif`,
/// identical; no other file may be there.
///
/// Fails only when the folder cannot be read.
pub(crate) fn inspect_dest(dest_dir: &Path, country_codes: &[String]) -> io::Result<SavedFlags> {
    let mut found: BTreeSet<String> = BTreeSet::new();
    for entry in std::fs::read_dir(dest_dir)? {
        found.insert(entry?.file_name().to_string_lossy().into_owned());
    }
    let mut saved = SavedFlags::default();
    for country_code in country_codes {
        let file_name = flag_file_name(country_code);
        let present = found.remove(&file_name);
        match flags_server::builtin_flag(country_code) {
            Some(flag) => {
                saved.expected += 1;
                if !present {
                    saved.problems.push(format!("{file_name} is missing"));
                    continue;
                }
                let on_disk = std::fs::read(dest_dir.join(&file_name))?;
                if on_disk == flag {
                    saved.identical += 1;
                } else {
                    saved.problems.push(format!(
                        "{file_name} differs from the server's flag ({} bytes, expected {})",
                        on_disk.len(),
                        flag.len()
                    ));
                }
            }
            None if present => saved.problems.push(format!(
                "{file_name} is saved but the server has no such flag"
            )),
            None => {}
        }
    }
    for stray in found {
        saved.problems.push(format!("unexpected file {stray}"));
    }
    Ok(saved)
}

/// One timed run of a model, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The time `download_many` took, and nothing else: not making the
    /// folder, not checking it.
    pub elapsed: Duration,
    /// What the model counted.
    pub(crate) counter: StatusCounter,
    /// What it saved.
    pub(crate) saved: SavedFlags,
}

/// Why a harnessed run failed.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The temporary destination could not be made or read.
    #[error("temporary folder {}: {source}", path.display())]
    TempDir {
        /// The folder (or its parent, when it could not be made).
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The model's `download_many` could not start.
    #[error("{model} could not start: {source}")]
    Setup {
        /// The model's name.
        model: &'static str,
        /// Its error.
        source: SetupError,
    },
    /// The model ran but its results are wrong.
    #[error("{model} saved wrong results: {}", Problems(problems))]
    WrongResults {
        /// The model's name.
        model: &'static str,
        /// What is wrong, one line each.
        problems: Vec<String>,
    },
}

/// The first few problems, for an error message.
struct Problems<'a>(&'a [String]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 5;
        write!(
            formatter,
            "{}",
            self.0
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        )?;
        if self.0.len() > SHOWN {
            write!(formatter, "; and {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

/// A fresh temporary folder for a run, named `{prefix}...`: under
/// `$TMPDIR` when it is set (the user's choice), otherwise under `/dev/shm`
/// (Linux's in-memory file system) when a folder can be made there,
/// otherwise under the system's temporary folder.
///
/// In memory, because these runs measure the models, not the disk: on the
/// development VM's disk, creating 194 files in a fresh folder took from
/// 50 to 220 ms from one run to the next, more than the models differ by;
/// on `/dev/shm` the same benchmark is stable to a few percent.
pub(crate) fn scratch_dir(prefix: &str) -> io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    if std::env::var_os("TMPDIR").is_none() {
        if let Ok(in_memory) = builder.tempdir_in("/dev/shm") {
            return Ok(in_memory);
        }
    }
    builder.tempdir()
}

/// Run `variant` on `job` in this process, into a fresh temporary folder
/// from `scratch_dir` (`job.dest_dir` is replaced), then check the folder
/// and the count.
///
/// Only the call to `download_many` is timed. The run is an error when the
/// model cannot start or when anything it saved or counted is wrong (see
/// `SavedFlags`); the temporary folder is removed either way.
pub fn run_model(variant: &Variant, job: &DownloadJob) -> Result<RunOutcome, HarnessError> {
    let dest = scratch_dir("flags-bench-").map_err(|source| HarnessError::TempDir {
        path: std::env::temp_dir(),
        source,
    })?;
    let job = DownloadJob {
        dest_dir: dest.path().to_path_buf(),
        ..job.clone()
    };
    let start = Instant::now();
    let result = variant.download_many(&job);
    let elapsed = start.elapsed();
    let counter = result.map_err(|source| HarnessError::Setup {
        model: variant.name,
        source,
    })?;
    let mut saved =
        inspect_dest(dest.path(), &job.country_codes).map_err(|source| HarnessError::TempDir {
            path: dest.path().to_path_buf(),
            source,
        })?;
    saved.check_counter(&counter, job.country_codes.len());
    if !saved.is_complete() {
        return Err(HarnessError::WrongResults {
            model: variant.name,
            problems: saved.problems,
        });
    }
    Ok(RunOutcome {
        elapsed,
        counter,
        saved,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn scratch_dir_examples() {
        let scratch = crate::harness::scratch_dir("flags-doc-").unwrap();
        let path = scratch.path().to_path_buf();
        assert!(path.is_dir());
        assert!(
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("flags-doc-")
        );
        drop(scratch);
        assert!(!path.exists());
    }
}
