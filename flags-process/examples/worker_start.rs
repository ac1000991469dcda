//! What starting one download worker costs, measured from outside.
//!
//! ```text
//! cargo build --release -p flags-process
//! cargo run --release -p flags-process --example worker_start -- \
//!     target/release/flags-process http://127.0.0.1:18631/flags [ROUNDS]
//! ```
//!
//! For each of ROUNDS (default 50) fresh workers, one after another:
//!
//! - **spawn to greeting:** from `spawn` to the `HELLO` line: the cost of
//!   a new process (fork, exec, loading the binary) before it can take work;
//! - **first answer:** from `spawn` to the `DONE` line of the first `GET`
//!   (greeting, building the HTTP client, connecting, one request);
//! - **warm answer:** a second `GET` on the same worker (one request on an
//!   open connection), for comparison.
//!
//! First answer minus warm answer is what a new worker adds to the run.
//!
//! Then, for a whole pool, as `download_many` starts it: how long the
//! parent takes to submit 30 codes to a fresh pool of 30 (each submit
//! spawns a worker), and the time from `ProcessPool::with_command` to the
//! last of N answers when N fresh workers each get one code (N = 1, 2, 4,
//! 8, 16, 30), median of 10 pools. Medians are printed. Use a server
//! without delay.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flags_process::pool::{ProcessPool, WORKER_ENV, WorkerCommand};
use flags_process::protocol::{DownloadProtocol, JobSettings, PROTOCOL_NAME, Request};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let program = args
        .next()
        .ok_or("usage: worker_start PROGRAM BASE_URL [ROUNDS]")?;
    let base_url = args
        .next()
        .ok_or("usage: worker_start PROGRAM BASE_URL [ROUNDS]")?;
    let rounds: usize = args.next().map_or(Ok(50), |text| text.parse())?;
    let dest = std::env::temp_dir().join(format!("worker-start-{}", std::process::id()));
    std::fs::create_dir_all(&dest)?;
    let job = flags_core::DownloadJob::new(Vec::new(), base_url, &dest);
    let job_line = Request::Job(JobSettings::from_job(&job)).to_line();
    let get_line = Request::Get("BR".to_string()).to_line();

    let (mut greetings, mut first_answers, mut warm_answers) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        // Spawn one worker, as the pool does.
        let mut child = Command::new(&program)
            .env(WORKER_ENV, PROTOCOL_NAME)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        // Receive the greeting.
        stdout.read_line(&mut line)?;
        greetings.push(start.elapsed());
        // Send the job and a first code, and receive the answer.
        stdin.write_all(format!("{job_line}\n{get_line}\n").as_bytes())?;
        line.clear();
        stdout.read_line(&mut line)?;
        first_answers.push(start.elapsed());
        // A second code on the same, now warm, worker.
        let warm = Instant::now();
        stdin.write_all(format!("{get_line}\n").as_bytes())?;
        line.clear();
        stdout.read_line(&mut line)?;
        warm_answers.push(warm.elapsed());
        if !line.starts_with("DONE BR OK ") {
            return Err(format!("unexpected answer {line:?}: is the server running?").into());
        }
        // Close stdin: the worker exits; wait for it.
        drop(stdin);
        child.wait()?;
    }
    let (mut pool_starts, mut spawn_times) = (Vec::new(), Vec::new());
    for workers in [1, 2, 4, 8, 16, 30] {
        let codes: Vec<String> = flags_core::countries::all_cc()
            .into_iter()
            .take(workers)
            .map(String::from)
            .collect();
        let mut samples = Vec::new();
        for _ in 0..10 {
            let start = Instant::now();
            // Spawn the whole pool, queue one code per worker, and wait for
            // every answer.
            let mut pool = ProcessPool::with_command(
                WorkerCommand::program(&program),
                DownloadProtocol::new(&job),
                workers,
            )?;
            for code in &codes {
                pool.submit(code.clone());
            }
            if workers == 30 {
                spawn_times.push(start.elapsed());
            }
            while pool.next_outcome()?.is_some() {}
            samples.push(start.elapsed());
            // Close stdins and wait for every worker.
            pool.shutdown();
        }
        pool_starts.push((workers, median(samples)));
    }
    std::fs::remove_dir_all(&dest)?;
    let (greeting, first, warm) = (
        median(greetings),
        median(first_answers),
        median(warm_answers),
    );
    println!("medians over {rounds} workers:");
    println!("  spawn to greeting:        {}", millis(greeting));
    println!("  spawn to first answer:    {}", millis(first));
    println!("  warm answer:              {}", millis(warm));
    println!(
        "  start cost (first - warm): {}",
        millis(first.saturating_sub(warm))
    );
    println!(
        "submitting 30 codes to a fresh pool (spawns 30 workers): {}",
        millis(median(spawn_times))
    );
    println!("a fresh pool of N workers answering N codes at once, median of 10:");
    for (workers, elapsed) in pool_starts {
        println!("  N = {workers:2}: {}", millis(elapsed));
    }
    Ok(())
}
