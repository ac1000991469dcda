//! Writes the 194 built-in flags and their `metadata.json` to a folder laid
//! out the way `flags-server --dir` (and any static web server) serves it:
//! `{DIR}/{cc}/{cc}.gif` and `{DIR}/{cc}/metadata.json`.
//!
//! ```text
//! cargo run --release -p flags-server --example write_flags -- /tmp/flags-tree
//! flags-server --port 8010 --dir /tmp/flags-tree
//! ```
//!
//! The same tree served by nginx under `/flags/` gives the same URLs, so
//! the two servers can be compared on the same requests.

use std::path::PathBuf;
use std::process::ExitCode;

use flags_core::countries::ALL_COUNTRIES;
use flags_server::{builtin_flag, builtin_metadata};

fn main() -> ExitCode {
    let Some(root) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: write_flags DIR");
        return ExitCode::from(2);
    };
    for (upper, _name) in ALL_COUNTRIES {
        let code = upper.to_ascii_lowercase();
        let folder = root.join(&code);
        let written = std::fs::create_dir_all(&folder).and_then(|()| {
            // Every code of `ALL_COUNTRIES` is built in: both are `Some`.
            let gif = builtin_flag(&code).unwrap_or_default();
            let metadata = builtin_metadata(&code).unwrap_or_default();
            std::fs::write(folder.join(format!("{code}.gif")), gif)?;
            std::fs::write(folder.join("metadata.json"), metadata)
        });
        if let Err(error) = written {
            eprintln!("write_flags: {}: {error}", folder.display());
            return ExitCode::FAILURE;
        }
    }
    println!(
        "{} flags written to {}",
        ALL_COUNTRIES.len(),
        root.display()
    );
    ExitCode::SUCCESS
}
