//! Futures up close, the book's `flags_threadpool_futures.py`: the first 5
//! of the 20 most populous countries, 3 workers, `submit` and
//! `as_completed` by hand, printing each future's state.
//!
//! ```text
//! cargo run --release -p flags-threadpool --example futures -- --server http://127.0.0.1:8001/flags
//! Scheduled for BR: <Future state=running>
//! Scheduled for CN: <Future state=running>
//! Scheduled for ID: <Future state=running>
//! Scheduled for IN: <Future state=pending>
//! Scheduled for US: <Future state=pending>
//! ID BR CN <Future state=finished> result: "ID"
//! <Future state=finished> result: "BR"
//! <Future state=finished> result: "CN"
//! US <Future state=finished> result: "US"
//! IN <Future state=finished> result: "IN"
//!
//! 5 downloads in 0.21s
//! ```
//!
//! With 3 workers, the first three futures are running as soon as they
//! are submitted (each starts a worker), and the last two wait in the
//! queue: pending. The results come back in the order the downloads end,
//! which changes from run to run. The codes printed bare come from the
//! workers, as each flag is saved; the `result:` lines from the main
//! thread, as `as_completed` yields each future.
//!
//! These futures are Python's `concurrent.futures.Future`: handles on work
//! already scheduled, running whether or not anyone looks. Rust's own
//! futures are another thing, lazy: `flags-async`'s
//! `where_are_the_futures` example shows the difference.

use std::io::Write;
use std::path::Path;

use flags_core::DownloadJob;
use flags_core::countries::POP20_CC;
use flags_core::save::{flag_file_name, save_flag};
use flags_core::script::ScriptError;
// The blocking client every blocking script shares, and its `get_flag`:
// one GET, its I/O done on the calling thread.
use flags_seq::{BlockingClient, HttpClient, http_client};
use flags_threadpool::executor::{PoolFuture, ThreadPoolExecutor, as_completed};

/// A download's outcome as a clonable value (a future's `result()` hands
/// out copies): the code, or what went wrong.
type DownloadResult = Result<String, String>;

/// What each worker does for one code: fetch, save, print the code, and
/// return it.
fn download_one(
    client: &HttpClient,
    base_url: &str,
    dest_dir: &Path,
    country_code: &str,
) -> DownloadResult {
    // Blocks this worker thread until the flag is in.
    let image = client
        .get_flag(base_url, country_code)
        .map_err(|error| error.to_string())?;
    save_flag(dest_dir, &flag_file_name(country_code), &image)
        .map_err(|error| error.to_string())?;
    print!("{country_code} ");
    let _ = std::io::stdout().flush();
    Ok(country_code.to_string())
}

fn download_many(base_url: &str, dest_dir: &Path) -> Result<usize, ScriptError> {
    // One client for the three workers (an `Arc` inside: clones share it).
    let job = DownloadJob::new(Vec::new(), base_url, dest_dir).with_max_req(3);
    let client = http_client(&job)?;
    // The first five of the list, then sorted: BR CN ID IN US.
    let mut codes = POP20_CC[..5].to_vec();
    codes.sort();
    // Three workers for five tasks, so that two must wait.
    let executor = ThreadPoolExecutor::new(3);
    let mut to_do: Vec<PoolFuture<DownloadResult>> = Vec::new();
    for country_code in codes {
        let (client, base_url, dest_dir) =
            (client.clone(), base_url.to_string(), dest_dir.to_path_buf());
        // Submit: schedule the call, get its future at once.
        let future =
            executor.submit(move || download_one(&client, &base_url, &dest_dir, country_code));
        println!("Scheduled for {country_code}: {future:?}");
        to_do.push(future);
    }
    let mut count = 0;
    // Join, in finishing order: each future as soon as it is done.
    for future in as_completed(to_do) {
        // Done, so this does not block. Two layers of `Result`: did the
        // task run to the end (no panic, not cancelled), and did the
        // download succeed.
        match future.result() {
            Ok(Ok(country_code)) => println!("{future:?} result: {country_code:?}"),
            Ok(Err(error)) => println!("{future:?} failed: {error}"),
            Err(task_error) => println!("{future:?} {task_error}"),
        }
        count += 1;
    }
    Ok(count)
}

fn main() -> Result<(), ScriptError> {
    // The book's `main`, shared by every plain script: `--server`, the
    // folder, the timing and the closing line.
    flags_core::script::main(download_many)
}
