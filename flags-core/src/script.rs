//! What the plain scripts share: the `examples/` of each model crate, the
//! book's `flags.py`, `flags_threadpool.py` and `flags_asyncio.py`.
//!
//! In the book, the later scripts `from flags import main`: only their
//! `download_many` is new. Here [`main`] plays that part, so each example
//! shows only what its model changes.

use std::path::Path;
use std::time::Instant;

use crate::url::resolve_server;

/// Any error of a plain script: it has no error handling, and the first
/// failure ends it.
pub type ScriptError = Box<dyn std::error::Error + Send + Sync>;

/// The folder the plain scripts save into.
pub const SCRIPT_DEST_DIR: &str = "downloaded";

/// The book's `main(downloader)`: read `--server LABEL|URL` (LOCAL by
/// default, the only option of a plain script), make `downloaded/`, time
/// `download_many(base_url, dest_dir)`, and print
/// `\n20 downloads in 0.12s` after the codes it printed.
pub fn main<F>(download_many: F) -> Result<(), ScriptError>
where
    F: FnOnce(&str, &Path) -> Result<usize, ScriptError>,
{
    let args: Vec<String> = std::env::args().collect();
    let server = match args.iter().position(|arg| arg == "--server" || arg == "-s") {
        Some(index) => args.get(index + 1).map(String::as_str).unwrap_or("LOCAL"),
        None => "LOCAL",
    };
    let base_url = resolve_server(server)?.base_url;
    let dest_dir = Path::new(SCRIPT_DEST_DIR);
    std::fs::create_dir_all(dest_dir)?;
    let start = Instant::now();
    let count = download_many(&base_url, dest_dir)?;
    println!(
        "\n{count} downloads in {:.2}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
