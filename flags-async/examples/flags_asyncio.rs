//! The plain async script, the book's `flags_asyncio.py`: download the
//! flags of the 20 most populous countries all at once, one future per
//! code (no task is spawned) joined with `join_all`, and print each code
//! as it is saved. No limit on concurrency and no error handling: the first failure
//! ends the run with an error once the others are done.
//!
//! ```text
//! cargo run --release -p flags-async --example flags_asyncio -- --server http://127.0.0.1:8001/flags
//! BR CN DE ID IN JP BD FR EG CD ET IR MX NG PH PK RU TR US VN
//! 20 downloads in 0.12s
//! ```
//!
//! Compare with `flags-seq`'s example of the same name: the same
//! `get_flag`, `download_one` and `download_many`, with `async` and `.await`
//! added and the `for` loop replaced by `join_all`.

use std::io::Write;
use std::path::Path;

use flags_core::countries::POP20_CC;
use flags_core::save::{flag_file_name, save_flag};
use flags_core::script::ScriptError;
use flags_core::url::flag_url;
use futures_util::future::join_all;

/// Any error, from any thread: what `join_all`'s futures and `main` return.
async fn get_flag(
    client: &reqwest::Client,
    base_url: &str,
    country_code: &str,
) -> reqwest::Result<Vec<u8>> {
    // Await the headers, then the whole body: while this future waits, the
    // others make progress on the same thread.
    let response = client.get(flag_url(base_url, country_code)).send().await?;
    Ok(response.error_for_status()?.bytes().await?.to_vec())
}

async fn download_one(
    client: &reqwest::Client,
    base_url: &str,
    dest_dir: &Path,
    country_code: &str,
) -> Result<(), ScriptError> {
    let image = get_flag(client, base_url, country_code).await?;
    let (dest_dir, file_name) = (dest_dir.to_path_buf(), flag_file_name(country_code));
    // Writing a file blocks, so it goes to tokio's blocking threads (the
    // book's `asyncio.to_thread`); we await its end.
    tokio::task::spawn_blocking(move || save_flag(&dest_dir, &file_name, &image)).await??;
    // A short line to the terminal: printed in place rather than sent
    // elsewhere, to keep the script plain.
    print!("{country_code} ");
    std::io::stdout().flush()?;
    Ok(())
}

async fn download_many(base_url: &str, dest_dir: &Path) -> Result<usize, ScriptError> {
    let client = reqwest::Client::new();
    let mut codes = POP20_CC.to_vec();
    codes.sort();
    // Build every future first (nothing runs yet), then drive them all at
    // once: `join_all` polls each as it becomes ready and returns when the
    // last one ends, with the results in the order of `codes`.
    let to_do = codes
        .iter()
        .map(|country_code| download_one(&client, base_url, dest_dir, country_code));
    let results = join_all(to_do).await;
    // The first error, if any, ends the script.
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(codes.len())
}

fn main() -> Result<(), ScriptError> {
    // The book's `main`, shared by every plain script: `--server`, the
    // folder, the timing and the closing line.
    flags_core::script::main(|base_url, dest_dir| {
        // One thread is plenty for twenty requests that mostly wait.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // Run the whole download on the runtime: the book's `asyncio.run`.
        runtime.block_on(download_many(base_url, dest_dir))
    })
}
