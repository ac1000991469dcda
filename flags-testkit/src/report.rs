//! What a model binary's run printed and left behind: its report on stdout
//! ([`parse_final_report`], [`without_elapsed`]) and the files in its
//! `--dest` ([`file_names`]).
//!
//! The report's text is fixed by the contract (`flags_core::report` writes
//! it): these read it back, so that a test compares counts and lines, not
//! timings.

use std::path::Path;

use flags_core::StatusCounter;

/// A run's stdout without its last line, `Elapsed time: ...`, which
/// changes from run to run: the rest can be compared whole. `None` when the
/// output does not end with that line.
///
/// ```
/// use flags_testkit::report::without_elapsed;
/// let stdout = "--------------------\n  1 flag downloaded.\nElapsed time: 0.01s\n";
/// assert_eq!(without_elapsed(stdout), Some("--------------------\n  1 flag downloaded.\n"));
/// assert_eq!(without_elapsed("no report\n"), None);
/// ```
pub fn without_elapsed(stdout: &str) -> Option<&str> {
    let body = stdout.strip_suffix('\n')?;
    let cut = body.rfind('\n').map_or(0, |at| at + 1);
    body[cut..]
        .starts_with("Elapsed time: ")
        .then(|| &stdout[..cut])
}

/// Read the counts back from a final report on stdout.
pub fn parse_final_report(stdout: &str) -> Option<StatusCounter> {
    let (_, tail) = stdout.split_once("--------------------\n")?;
    let mut counter = StatusCounter::default();
    let mut saw_downloaded = false;
    for line in tail.lines() {
        let mut words = line.split_whitespace();
        let (Some(number), Some(word)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(number) = number.parse::<usize>() else {
            continue;
        };
        match word {
            "flag" | "flags" => {
                counter.ok = number;
                saw_downloaded = true;
            }
            "not" => counter.not_found = number,
            "error." | "errors." => counter.error = number,
            _ => {}
        }
    }
    saw_downloaded.then_some(counter)
}

/// The names of the files in `dest`, sorted: what a run left there,
/// temporary files included.
pub fn file_names(dest: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dest)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}
