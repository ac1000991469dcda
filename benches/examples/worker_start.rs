//! What starting one download worker costs, with each start method,
//! measured from outside.
//!
//! ```text
//! cargo build --release -p flags-process && cargo build --release -p flags-benches --example worker_start
//! target/release/examples/worker_start target/release/flags-process \
//!     http://127.0.0.1:18631/flags [ROUNDS] [spawn|forkserver|both] [OTHER_PROGRAM]
//! ```
//!
//! For each start method (`spawn`, then `forkserver`; or only the one
//! named, to profile it alone), and then OTHER_PROGRAM spawned if one is
//! given (an older build, to compare with), ROUNDS (default 50)
//! fresh workers, one after another, each started by a
//! [`Launcher`](flags_process::pool::Launcher) as the pool starts them:
//!
//! - **start to greeting:** from asking for the worker to its `HELLO`
//!   line: the cost of a new process before it can take work;
//! - **first answer:** from asking for the worker to the `DONE` line of its
//!   first `GET` (greeting, building the HTTP client, connecting, one
//!   request), and a **warm answer**, a second `GET` on the same worker;
//! - **CPU per start:** the CPU time (user + system) of every process
//!   involved, this one, the workers and the fork server, over the rounds
//!   of a second pass where each worker only greets and exits, divided by
//!   ROUNDS: what one more worker costs the machine (the median of 5
//!   passes; a fork server's own start is shared by the ROUNDS workers);
//! - **resident memory** of one worker right after its greeting (idle) and
//!   after its first answer: RSS (every page it maps, shared or not) and
//!   PSS (each shared page split among the processes that share it, the
//!   fair share of a worker in a pool).
//!
//! The columns run in the same process, interleaved round by round,
//! so that the machine's load falls on both alike. Medians are printed.
//! Use a server without delay.

use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use flags_core::limits::proc_status_field;
use flags_process::StartMethod;
use flags_process::pool::{Launcher, WorkerCommand};
use flags_process::protocol::{JobSettings, PROTOCOL_NAME, Request};

const BOTH: [StartMethod; 2] = [StartMethod::Spawn, StartMethod::ForkServer];

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn median_kib(mut samples: Vec<u64>) -> u64 {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn millis(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1000.0)
}

/// The CPU time (user + system) of this process and of its children
/// reaped so far.
fn cpu_time() -> Duration {
    let mut total = Duration::ZERO;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: `getrusage` writes one `rusage` into the zeroed local it
        // is given, which lives across the call.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::getrusage(who, &mut usage);
            usage
        };
        for time in [usage.ru_utime, usage.ru_stime] {
            total += Duration::from_secs(time.tv_sec as u64)
                + Duration::from_micros(time.tv_usec as u64);
        }
    }
    total
}

/// `Rss` and `Pss` of a process, in KiB, from `/proc/PID/smaps_rollup`
/// (0 when it cannot be read).
fn memory_kib(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let field = |name| proc_status_field(&text, name).unwrap_or(0);
    (field("Rss:"), field("Pss:"))
}

/// What one round measured for one method.
#[derive(Default)]
struct Samples {
    greetings: Vec<Duration>,
    first_answers: Vec<Duration>,
    warm_answers: Vec<Duration>,
    idle_rss: Vec<u64>,
    idle_pss: Vec<u64>,
    busy_rss: Vec<u64>,
    busy_pss: Vec<u64>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: worker_start PROGRAM BASE_URL [ROUNDS]";
    let program = args.next().ok_or(usage)?;
    let base_url = args.next().ok_or(usage)?;
    let rounds: usize = args.next().map_or(Ok(50), |text| text.parse())?;
    let methods: Vec<StartMethod> = match args.next().as_deref() {
        None | Some("both") => BOTH.to_vec(),
        Some("spawn") => vec![StartMethod::Spawn],
        Some("forkserver") => vec![StartMethod::ForkServer],
        Some(other) => return Err(format!("unknown start method {other:?}; {usage}").into()),
    };
    // The columns: (heading, program, start method).
    let mut columns: Vec<(String, String, StartMethod)> = methods
        .iter()
        .map(|&method| (method.name().to_string(), program.clone(), method))
        .collect();
    if let Some(other) = args.next() {
        columns.push(("other, spawn".to_string(), other, StartMethod::Spawn));
    }
    let dest = std::env::temp_dir().join(format!("worker-start-{}", std::process::id()));
    std::fs::create_dir_all(&dest)?;
    let job = flags_core::DownloadJob::new(Vec::new(), base_url, &dest);
    let job_line = Request::Job(JobSettings::from_job(&job)).to_line();
    let get_line = Request::Get("BR".to_string()).to_line();

    // One launcher per method, kept across rounds, as a pool keeps its own:
    // the fork server is started once, with its first worker.
    let mut launchers: Vec<Launcher> = columns
        .iter()
        .map(|(_, program, method)| {
            let command = WorkerCommand::program(program).start_method(*method);
            Launcher::new(command, PROTOCOL_NAME)
        })
        .collect();
    let mut samples: Vec<Samples> = columns.iter().map(|_| Samples::default()).collect();
    for _ in 0..rounds {
        for (launcher, samples) in launchers.iter_mut().zip(&mut samples) {
            let start = Instant::now();
            // Start one worker, as the pool does.
            let mut worker = launcher.launch()?;
            let pid = worker.process.id();
            let mut stdout = BufReader::new(worker.stdout);
            let mut line = String::new();
            // Receive the greeting.
            stdout.read_line(&mut line)?;
            samples.greetings.push(start.elapsed());
            let (rss, pss) = memory_kib(pid);
            samples.idle_rss.push(rss);
            samples.idle_pss.push(pss);
            // Send the job and a first code, and receive the answer.
            worker
                .stdin
                .write_all(format!("{job_line}\n{get_line}\n").as_bytes())?;
            line.clear();
            stdout.read_line(&mut line)?;
            samples.first_answers.push(start.elapsed());
            // A second code on the same, now warm, worker.
            let warm = Instant::now();
            worker.stdin.write_all(format!("{get_line}\n").as_bytes())?;
            line.clear();
            stdout.read_line(&mut line)?;
            samples.warm_answers.push(warm.elapsed());
            let (rss, pss) = memory_kib(pid);
            samples.busy_rss.push(rss);
            samples.busy_pss.push(pss);
            if !line.starts_with("DONE BR OK ") {
                return Err(format!("unexpected answer {line:?}: is the server running?").into());
            }
            // The worker wrote BR's flag to a temporary file; remove it.
            if let Some(temp_name) = line.split_whitespace().nth(4) {
                let _ = std::fs::remove_file(dest.join(temp_name));
            }
            // Close stdin: the worker exits; wait for it.
            drop(worker.stdin);
            worker.process.wait()?;
        }
    }
    for launcher in &mut launchers {
        launcher.stop(Duration::from_secs(2));
    }

    // CPU per start: a fresh launcher (and so a fresh fork server) per
    // method and pass, every worker greeting and exiting at once (its stdin
    // closed); every process reaped before the clock is read again, so
    // that its CPU is counted.
    let mut cpu_per_start: Vec<Vec<Duration>> = columns.iter().map(|_| Vec::new()).collect();
    for _ in 0..5 {
        for ((_, program, method), cpu) in columns.iter().zip(&mut cpu_per_start) {
            let command = WorkerCommand::program(program).start_method(*method);
            let mut launcher = Launcher::new(command, PROTOCOL_NAME);
            let before = cpu_time();
            for _ in 0..rounds {
                let mut worker = launcher.launch()?;
                let mut stdout = BufReader::new(worker.stdout);
                let mut line = String::new();
                stdout.read_line(&mut line)?;
                drop(worker.stdin);
                // The end of its output: it has read the job and exited.
                line.clear();
                stdout.read_line(&mut line)?;
                worker.process.wait()?;
            }
            launcher.stop(Duration::from_secs(2));
            cpu.push((cpu_time() - before) / rounds as u32);
        }
    }
    std::fs::remove_dir_all(&dest)?;

    println!("medians over {rounds} workers per column, the columns interleaved:");
    print!("{:<28}", "");
    for (heading, _, _) in &columns {
        print!(" {heading:>14}");
    }
    println!();
    let row = |label: &str, values: Vec<String>| {
        print!("{label:<28}");
        for value in values {
            print!(" {value:>14}");
        }
        println!();
    };
    let times = |pick: fn(&Samples) -> &Vec<Duration>| {
        samples
            .iter()
            .map(|samples| millis(median(pick(samples).clone())))
            .collect()
    };
    row("start to greeting", times(|s| &s.greetings));
    row("start to first answer", times(|s| &s.first_answers));
    row("warm answer", times(|s| &s.warm_answers));
    let start_cost = |s: &Samples| {
        median(s.first_answers.clone()).saturating_sub(median(s.warm_answers.clone()))
    };
    row(
        "start cost (first - warm)",
        samples.iter().map(|s| millis(start_cost(s))).collect(),
    );
    row(
        "CPU per start, all processes",
        cpu_per_start
            .iter()
            .map(|cpu| millis(median(cpu.clone())))
            .collect(),
    );
    let kib = |pick: fn(&Samples) -> &Vec<u64>| {
        samples
            .iter()
            .map(|samples| format!("{} KiB", median_kib(pick(samples).clone())))
            .collect()
    };
    row("RSS, idle (greeted)", kib(|s| &s.idle_rss));
    row("PSS, idle (greeted)", kib(|s| &s.idle_pss));
    row("RSS after two answers", kib(|s| &s.busy_rss));
    row("PSS after two answers", kib(|s| &s.busy_pss));
    Ok(())
}
