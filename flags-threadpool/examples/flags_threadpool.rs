//! The tour, stop 2 of 4: the thread pool script. The same 20 flags,
//! downloaded by `executor.map` on a pool of 20 worker threads. Each code
//! is printed as its flag is saved, so they come out in finishing order.
//! No error handling: the first failure ends the run.
//!
//! ```text
//! cargo run --release -p flags-server -- --port 8000 --delay 0.1   # in another terminal
//! cargo run --release -p flags-threadpool --example flags_threadpool
//! BR FR EG ET IN DE PK JP CN MX IR CD RU NG BD ID US VN TR PH
//! 20 downloads in 0.11s
//! ```
//!
//! One wave of 20 requests: 0.1 s. Against `flags-seq/examples/flags.rs`
//! only `download_many` changed: a pool instead of a `for` loop. The full
//! version is `flags-threadpool/src/lib.rs`.

use std::io::Write;
use std::path::Path;

use flags_core::DownloadJob;
use flags_core::countries::POP20_CC;
use flags_core::save::{flag_file_name, save_flag};
use flags_core::script::ScriptError;
// The blocking client every blocking script shares, and its `get_flag`:
// one GET, its I/O done on the calling thread.
use flags_seq::{BlockingClient, HttpClient, http_client};
use flags_threadpool::executor::ThreadPoolExecutor;

/// Download one flag, save it, print its code.
fn download_one(
    client: &HttpClient,
    base_url: &str,
    dest_dir: &Path,
    country_code: &str,
) -> Result<(), ScriptError> {
    // Blocks this worker thread, and only it, until the whole flag is in.
    let image = client.get_flag(base_url, country_code)?;
    save_flag(dest_dir, &flag_file_name(country_code), &image)?;
    print!("{country_code} ");
    std::io::stdout().flush()?;
    Ok(())
}

fn download_many(base_url: &str, dest_dir: &Path) -> Result<usize, ScriptError> {
    let mut codes = POP20_CC.to_vec();
    codes.sort();
    // One client for every thread, keeping up to 20 connections for reuse.
    let job = DownloadJob::new(Vec::new(), base_url, dest_dir).with_max_req(codes.len());
    let client = http_client(&job)?;
    // The pool, dropped (so joined) at the end of this function: the
    // book's `with ThreadPoolExecutor() as executor:`. Its tasks outlive
    // this stack frame as far as the compiler knows, so they own their data.
    let executor = ThreadPoolExecutor::new(codes.len());
    let (base_url, dest_dir) = (base_url.to_string(), dest_dir.to_path_buf());
    // `map` submits one task per code at once and returns an iterator over
    // the results in the order of the codes.
    let results = executor.map(
        move |country_code: &str| download_one(&client, &base_url, &dest_dir, country_code),
        codes,
    );
    // Join: each `next` waits for that task. The outer `?` is a task that
    // panicked, the inner one a failed download.
    let mut count = 0;
    for result in results {
        result??;
        count += 1;
    }
    Ok(count)
}

fn main() -> Result<(), ScriptError> {
    // Shared by every script: `-s`/`--server` (LOCAL by default), the
    // `downloaded/` folder, the timing and the closing line.
    flags_core::script::main(download_many)
}
