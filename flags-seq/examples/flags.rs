//! The tour, stop 1 of 4: the sequential script. Download the flags of the
//! 20 most populous countries one after another, printing each code as
//! its flag is saved. No error handling: the first failure ends the run.
//!
//! ```text
//! cargo run --release -p flags-server -- --port 8000 --delay 0.1   # in another terminal
//! cargo run --release -p flags-seq --example flags
//! BD BR CD CN DE EG ET FR ID IN IR JP MX NG PH PK RU TR US VN
//! 20 downloads in 2.05s
//! ```
//!
//! 20 requests of 0.1 s each, one at a time: 2 s. The other stops
//! (`flags_threadpool`, `flags_asyncio`, `flags_process`) keep
//! `download_one` and change only `download_many`; diff them against this
//! file. The full version, with options, retries, Ctrl-C and the report,
//! is `flags-seq/src/lib.rs`.

use std::io::Write;
use std::path::Path;

use flags_core::DownloadJob;
use flags_core::countries::POP20_CC;
use flags_core::save::{flag_file_name, save_flag};
use flags_core::script::ScriptError;
// The blocking client every blocking script shares, and its `get_flag`:
// one GET, its I/O done on the calling thread.
use flags_seq::{BlockingClient, HttpClient, http_client};

/// Download one flag, save it, print its code.
fn download_one(
    client: &HttpClient,
    base_url: &str,
    dest_dir: &Path,
    country_code: &str,
) -> Result<(), ScriptError> {
    // Blocks this thread until the whole flag is in.
    let image = client.get_flag(base_url, country_code)?;
    save_flag(dest_dir, &flag_file_name(country_code), &image)?;
    print!("{country_code} ");
    std::io::stdout().flush()?;
    Ok(())
}

fn download_many(base_url: &str, dest_dir: &Path) -> Result<usize, ScriptError> {
    let mut codes = POP20_CC.to_vec();
    codes.sort();
    // The command line's defaults: a 3.1 s deadline for each request.
    let client = http_client(&DownloadJob::new(Vec::new(), base_url, dest_dir))?;
    // The whole model: the next request starts when this flag is saved.
    for country_code in &codes {
        download_one(&client, base_url, dest_dir, country_code)?;
    }
    Ok(codes.len())
}

fn main() -> Result<(), ScriptError> {
    // Shared by every script: `-s`/`--server` (LOCAL by default), the
    // `downloaded/` folder, the timing and the closing line.
    flags_core::script::main(download_many)
}
