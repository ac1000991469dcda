//! The plain thread pool script, the book's `flags_threadpool.py`: the
//! flags of the 20 most populous countries, downloaded by
//! `executor.map` on a pool of worker threads. Each code is printed as its
//! flag is saved, so they come out in finishing order. No error handling:
//! a failure ends the run.
//!
//! Against a server with `--delay 0.1`, one wave of 20 requests:
//!
//! ```text
//! cargo run --release -p flags-threadpool --example flags_threadpool -- --server http://127.0.0.1:8001/flags
//! BR FR EG ET IN DE PK JP CN MX IR CD RU NG BD ID US VN TR PH
//! 20 downloads in 0.11s
//! ```
//!
//! Compare with `flags-seq/examples/flags.rs`: the same client and
//! `get_flag`, the same saving; only `download_many` changed.

use std::io::Write;
use std::path::Path;

use flags_core::DownloadJob;
use flags_core::countries::POP20_CC;
use flags_core::save::{flag_file_name, save_flag};
use flags_core::script::ScriptError;
// The sequential model's client and `get_flag`, as the book imports
// `get_flag` from `flags.py`.
use flags_seq::{BlockingClient, HttpClient};
use flags_threadpool::executor::ThreadPoolExecutor;

/// What each worker does for one code: fetch, save, print the code.
fn download_one(
    client: &HttpClient,
    base_url: &str,
    dest_dir: &Path,
    country_code: &str,
) -> Result<(), ScriptError> {
    // Blocks this worker thread, and only it, until the flag is in.
    let image = client.get_flag(base_url, country_code)?;
    save_flag(dest_dir, &flag_file_name(country_code), &image)?;
    print!("{country_code} ");
    std::io::stdout().flush()?;
    Ok(())
}

fn download_many(base_url: &str, dest_dir: &Path) -> Result<usize, ScriptError> {
    let mut codes: Vec<String> = POP20_CC.iter().map(|code| code.to_string()).collect();
    codes.sort();
    // One client for every thread, keeping up to 20 connections for reuse.
    let job = DownloadJob::new(Vec::new(), base_url, dest_dir).with_max_req(codes.len());
    let client = HttpClient::new(&job)?;
    let (base_url, dest_dir) = (base_url.to_string(), dest_dir.to_path_buf());
    // The pool, dropped (and so joined) at the end of this function: the
    // book's `with ThreadPoolExecutor() as executor:`.
    let executor = ThreadPoolExecutor::new(codes.len());
    // `map` submits one task per code at once and returns an iterator that
    // yields the results in the order of the codes.
    let results = executor.map(
        move |country_code: String| download_one(&client, &base_url, &dest_dir, &country_code),
        codes,
    );
    // Join: collecting waits for every result; the first error (or panic)
    // ends the run, as an exception would in the book.
    let mut count = 0;
    for result in results {
        result??;
        count += 1;
    }
    Ok(count)
}

fn main() -> Result<(), ScriptError> {
    // The book's `main`, shared by every plain script: `--server`, the
    // folder, the timing and the closing line.
    flags_core::script::main(download_many)
}
