//! The plain sequential script, the book's first example: download the
//! flags of the 20 most populous countries, one after another, and print
//! each code as it is saved. No error handling: the first failure stops it.
//!
//! ```text
//! cargo run --release -p flags-seq --example flags -- --server http://127.0.0.1:8001/flags
//! BD BR CD CN DE EG ET FR ID IN IR JP MX NG PH PK RU TR US VN
//! 20 downloads in 0.52s
//! ```

use std::io::Write;
use std::path::Path;

use flags_core::DownloadJob;
use flags_core::countries::POP20_CC;
use flags_core::save::{flag_file_name, save_flag};
use flags_core::script::ScriptError;
// The library's client and its `get_flag`: one blocking GET on this thread.
use flags_seq::{BlockingClient, HttpClient};

fn download_many(base_url: &str, dest_dir: &Path) -> Result<usize, ScriptError> {
    let mut codes = POP20_CC.to_vec();
    codes.sort();
    // The command line's defaults: a 3.1 s deadline per request.
    let client = HttpClient::new(&DownloadJob::new(Vec::new(), base_url, dest_dir))?;
    for country_code in &codes {
        // One at a time: the next request starts only when this one is saved.
        let image = client.get_flag(base_url, country_code)?;
        save_flag(dest_dir, &flag_file_name(country_code), &image)?;
        print!("{country_code} ");
        std::io::stdout().flush()?;
    }
    Ok(codes.len())
}

fn main() -> Result<(), ScriptError> {
    // The book's `main`, shared by every plain script: `--server`, the
    // folder, the timing and the closing line.
    flags_core::script::main(download_many)
}
