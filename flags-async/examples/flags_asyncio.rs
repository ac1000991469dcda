//! The tour, stop 3 of 4: the async script. The same 20 flags, all at
//! once: one future per code, driven together by `join_all` on a one-thread
//! tokio runtime (no task is spawned). Each code is printed as its flag is
//! saved. No cap on concurrency and no error handling: the first failure
//! ends the run once the other futures are done.
//!
//! ```text
//! cargo run --release -p flags-server -- --port 8000 --delay 0.1   # in another terminal
//! cargo run --release -p flags-async --example flags_asyncio
//! BR CN DE ID IN JP BD FR EG CD ET IR MX NG PH PK RU TR US VN
//! 20 downloads in 0.11s
//! ```
//!
//! Against `flags-seq/examples/flags.rs`: the async client's `get_flag`,
//! `async` and `.await` in `download_one`, and `join_all` on a runtime
//! instead of the `for` loop. The full version (a semaphore, spawned tasks,
//! saving off the runtime thread) is `flags-async/src/lib.rs`.

use std::io::Write;
use std::path::Path;

use flags_core::DownloadJob;
use flags_core::countries::POP20_CC;
use flags_core::save::{flag_file_name, save_flag};
use flags_core::script::ScriptError;
// The async client and its `get_flag`: one GET, awaited.
use flags_async::{HttpClient, get_flag, http_client};
use futures_util::future::join_all;

/// Download one flag, save it, print its code.
async fn download_one(
    client: &HttpClient,
    base_url: &str,
    dest_dir: &Path,
    country_code: &str,
) -> Result<(), ScriptError> {
    // Awaits the whole flag: while this future waits, the others run.
    let image = get_flag(client, base_url, country_code).await?;
    // Saving blocks the one thread for a moment, as in the book's script.
    save_flag(dest_dir, &flag_file_name(country_code), &image)?;
    print!("{country_code} ");
    std::io::stdout().flush()?;
    Ok(())
}

fn download_many(base_url: &str, dest_dir: &Path) -> Result<usize, ScriptError> {
    let mut codes = POP20_CC.to_vec();
    codes.sort();
    // One client for every future (its server lookup blocks: before the runtime).
    let client = http_client(&DownloadJob::new(Vec::new(), base_url, dest_dir))?;
    // One thread runs every future, as asyncio's event loop does.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Build every future first (nothing runs yet), then drive them all
    // at once: the book's `asyncio.run(supervisor(...))` with `gather`.
    let to_do = codes
        .iter()
        .map(|country_code| download_one(&client, base_url, dest_dir, country_code));
    let results = runtime.block_on(join_all(to_do));
    // The results come in the order of the codes; the first error ends it.
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(codes.len())
}

fn main() -> Result<(), ScriptError> {
    // Shared by every script: `-s`/`--server` (LOCAL by default), the
    // `downloaded/` folder, the timing and the closing line.
    flags_core::script::main(download_many)
}
