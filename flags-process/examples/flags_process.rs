//! The tour, stop 4 of 4: the process pool script. The same 20 flags,
//! downloaded by 20 worker processes (copies of this program, forked by
//! the pool's fork server), each fed one code at a time over a pipe; the parent prints
//! each code as its worker answers. No error handling: a failure ends its
//! worker, and the pool's word of that death ends the run.
//!
//! ```text
//! cargo run --release -p flags-server -- --port 8000 --delay 0.1   # in another terminal
//! cargo run --release -p flags-process --example flags_process
//! BR CN ID IN BD JP PK NG MX RU PH VN ET CD DE EG IR FR TR US
//! 20 downloads in 0.13s
//! ```
//!
//! Against `flags-seq/examples/flags.rs`: the same `download_one`, run in a
//! worker, and the two ends of the pipes (the protocol, the worker's loop).
//! The full version is `flags-process/src/lib.rs`.

use std::io::{self, BufRead, Write};
use std::path::Path;

use flags_core::DownloadJob;
use flags_core::countries::POP20_CC;
use flags_core::save::{flag_file_name, save_flag};
use flags_core::script::{SCRIPT_DEST_DIR, ScriptError};
use flags_process::pool::line::hello_line;
use flags_process::pool::{ProcessPool, WorkerProtocol, serve_if_requested};
use flags_process::protocol::ProtocolError;
// The blocking client every blocking script shares, and its `get_flag`:
// one GET, its I/O done on the calling thread.
use flags_seq::{BlockingClient, HttpClient, http_client};

/// Download one flag and save it (in a worker process).
fn download_one(
    client: &HttpClient,
    base_url: &str,
    dest_dir: &Path,
    country_code: &str,
) -> Result<(), ScriptError> {
    // Blocks this worker's only thread until the whole flag is in.
    let image = client.get_flag(base_url, country_code)?;
    save_flag(dest_dir, &flag_file_name(country_code), &image)?;
    Ok(())
}

/// The pipes' protocol: the worker greets, the parent sends the base URL,
/// then one code per line; the worker answers each code once it is saved.
struct Script(String);

impl WorkerProtocol for Script {
    type Task = &'static str;
    type Outcome = Result<String, String>;
    type Error = ProtocolError;
    const NAME: &'static str = "flags-script";
    const VERSION: u32 = 1;
    fn setup_line(&self) -> Option<String> {
        Some(self.0.clone())
    }
    fn task_line(&self, country_code: &&'static str) -> String {
        country_code.to_string()
    }
    fn accept_answer(
        &self,
        _: u32,
        _: &&'static str,
        line: &str,
    ) -> Result<Self::Outcome, ProtocolError> {
        Ok(Ok(line.to_string()))
    }
    fn failed(&self, country_code: &'static str, reason: String) -> Self::Outcome {
        Err(format!("{country_code}: {reason}"))
    }
}

/// A worker's whole life: greet, read the base URL, then download each code
/// the parent sends, until the parent closes the pipe.
fn worker_main() -> Result<(), ScriptError> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{}", hello_line(Script::NAME, Script::VERSION))?;
    stdout.flush()?;
    let mut lines = io::stdin().lock().lines();
    let base_url = lines.next().ok_or("no base URL")??;
    // The scripts' folder, which the parent made; and this worker's own
    // client and connection: processes share nothing.
    let dest_dir = Path::new(SCRIPT_DEST_DIR);
    let client = http_client(&DownloadJob::new(Vec::new(), &base_url, dest_dir))?;
    // Until the parent closes the pipe (or it breaks: the parent is gone).
    for country_code in lines.map_while(Result::ok) {
        download_one(&client, &base_url, dest_dir, &country_code)?;
        // Answer at once: the parent is waiting for this line.
        writeln!(stdout, "{country_code}")?;
        stdout.flush()?;
    }
    Ok(())
}

fn download_many(base_url: &str, _dest_dir: &Path) -> Result<usize, ScriptError> {
    let mut codes = POP20_CC.to_vec();
    codes.sort();
    // Up to 20 workers, each started by a `submit` that finds none free.
    let mut pool = ProcessPool::new(Script(base_url.to_string()), codes.len())?;
    for &country_code in &codes {
        pool.submit(country_code);
    }
    // Join, in finishing order: each answer frees a worker for the next code.
    while let Some(outcome) = pool.next_outcome()? {
        print!("{} ", outcome?);
        io::stdout().flush()?;
    }
    // Close every worker's stdin, so that it exits, and wait for each one.
    pool.shutdown();
    Ok(codes.len())
}

fn main() -> Result<(), ScriptError> {
    // First thing: a copy started as a worker (or as the pool's fork server,
    // which forks the workers) serves, and never gets further.
    serve_if_requested(Script::NAME, || match worker_main() {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("worker: {error}");
            1
        }
    });
    flags_core::script::main(download_many)
}
