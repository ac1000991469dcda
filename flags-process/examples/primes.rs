//! The book's `proc_pool.py`: check 20 large numbers for primality, a
//! CPU-bound job, once with the process pool and once with plain threads.
//!
//! ```text
//! cargo run --release -p flags-process --example primes        # one worker per CPU
//! cargo run --release -p flags-process --example primes -- 4   # four workers
//! ```
//!
//! The process pool is this crate's own [`ProcessPool`], speaking a tiny
//! protocol of its own: the worker greets with `HELLO primes 1`, the parent
//! sends `CHECK 9999999999999917`, the worker answers
//! `PRIME 9999999999999917 1 531229871` (the number, 1 if prime, the
//! nanoseconds the check took). The workers are this example's binary
//! run with `FLAGS_PROCESS_WORKER=primes` (forked by its fork server, on
//! Linux), exactly as the flag workers are the `flags-process` binary.
//!
//! Each result is printed as it completes (the book's `procs.py` does the
//! same; `proc_pool.py` uses `executor.map`, which prints in submission
//! order). The results are checked against the book's table after timing.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use flags_process::pool::line::hello_line;
use flags_process::pool::{PoolError, ProcessPool, WorkerProtocol, serve_if_requested};
use flags_process::protocol::ProtocolError;

/// The numbers of the book's `primes.py`, with whether each is prime.
const PRIME_FIXTURE: [(u64, bool); 20] = [
    (2, true),
    (142_702_110_479_723, true),
    (299_593_572_317_531, true),
    (3_333_333_333_333_301, true),
    (3_333_333_333_333_333, false),
    (3_333_335_652_092_209, false),
    (4_444_444_444_444_423, true),
    (4_444_444_444_444_444, false),
    (4_444_444_488_888_889, false),
    (5_555_553_133_149_889, false),
    (5_555_555_555_555_503, true),
    (5_555_555_555_555_555, false),
    (6_666_666_666_666_666, false),
    (6_666_666_666_666_719, true),
    (6_666_667_141_414_921, false),
    (7_777_777_536_340_681, false),
    (7_777_777_777_777_753, true),
    (7_777_777_777_777_777, false),
    (9_999_999_999_999_917, true),
    (9_999_999_999_999_999, false),
];

/// Trial division by every odd number up to the square root: slow on
/// purpose, about 50 million divisions for the largest primes.
fn is_prime(number: u64) -> bool {
    if number < 2 {
        return false;
    }
    if number == 2 {
        return true;
    }
    if number % 2 == 0 {
        return false;
    }
    let root = number.isqrt();
    (3..=root).step_by(2).all(|divisor| number % divisor != 0)
}

/// One number checked: the book's `PrimeResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PrimeResult {
    number: u64,
    prime: bool,
    elapsed: Duration,
}

fn check(number: u64) -> PrimeResult {
    let start = Instant::now();
    let prime = is_prime(number);
    PrimeResult {
        number,
        prime,
        elapsed: start.elapsed(),
    }
}

/// The primes protocol, for the generic pool: a task is a number, an
/// outcome is its result (or why its worker failed).
struct PrimesProtocol;

impl WorkerProtocol for PrimesProtocol {
    type Task = u64;
    type Outcome = Result<PrimeResult, String>;
    type Error = ProtocolError;
    const NAME: &'static str = "primes";
    const VERSION: u32 = 1;

    fn setup_line(&self) -> Option<String> {
        None
    }

    fn task_line(&self, number: &u64) -> String {
        format!("CHECK {number}")
    }

    fn accept_answer(
        &self,
        _worker_pid: u32,
        number: &u64,
        line: &str,
    ) -> Result<Self::Outcome, ProtocolError> {
        let unexpected = || ProtocolError::Unexpected {
            expected: format!("PRIME {number} 0|1 NANOSECONDS"),
            got: line.chars().take(60).collect(),
        };
        let fields: Vec<&str> = line.split(' ').collect();
        let ["PRIME", answered, prime, nanos] = fields.as_slice() else {
            return Err(unexpected());
        };
        let prime = match *prime {
            "1" => true,
            "0" => false,
            _ => return Err(unexpected()),
        };
        match (answered.parse::<u64>(), nanos.parse::<u64>()) {
            (Ok(answered), Ok(nanos)) if answered == *number => Ok(Ok(PrimeResult {
                number: answered,
                prime,
                elapsed: Duration::from_nanos(nanos),
            })),
            _ => Err(unexpected()),
        }
    }

    fn failed(&self, number: u64, reason: String) -> Self::Outcome {
        Err(format!("{number}: {reason}"))
    }
}

/// The worker's side: greet, then answer each `CHECK` line until stdin
/// closes.
fn serve_primes() -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(
        stdout,
        "{}",
        hello_line(PrimesProtocol::NAME, PrimesProtocol::VERSION)
    )?;
    stdout.flush()?;
    for line in io::stdin().lock().lines() {
        let line = line?;
        let number = line
            .strip_prefix("CHECK ")
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, line.clone()))?;
        // The CPU-bound work, in this worker process.
        let result = check(number);
        let nanos = u64::try_from(result.elapsed.as_nanos()).unwrap_or(u64::MAX);
        writeln!(stdout, "PRIME {number} {} {nanos}", u8::from(result.prime))?;
        stdout.flush()?;
    }
    Ok(())
}

fn print_result(result: &PrimeResult) {
    let label = if result.prime { 'P' } else { ' ' };
    println!(
        "{:16}  {label} {:9.6}s",
        result.number,
        result.elapsed.as_secs_f64()
    );
}

/// Check `numbers` with a pool of `workers` processes.
fn with_processes(numbers: &[u64], workers: usize) -> Result<Vec<PrimeResult>, PoolError> {
    // The pool: up to `workers` copies of this very program, re-run in
    // worker mode, each spawned by one of the first `submit`s.
    let mut pool = ProcessPool::new(PrimesProtocol, workers)?;
    // Queue every number; each worker gets one at a time.
    for &number in numbers {
        pool.submit(number);
    }
    let mut results = Vec::new();
    // Receive the results in completion order.
    while let Some(outcome) = pool.next_outcome()? {
        match outcome {
            Ok(result) => {
                print_result(&result);
                results.push(result);
            }
            Err(message) => eprintln!("failed: {message}"),
        }
    }
    // Close the workers' stdin and wait for them to exit.
    pool.shutdown();
    Ok(results)
}

/// Check `numbers` with `workers` threads taking numbers from one shared
/// queue: the same shape, in one process.
fn with_threads(numbers: &[u64], workers: usize) -> Vec<PrimeResult> {
    // The queue: a shared iterator behind a mutex; each thread takes the
    // next number when it is free, as a worker process would.
    let queue = Mutex::new(numbers.iter().copied());
    // The results channel: every thread sends, this thread receives.
    let (sender, receiver) = mpsc::channel();
    let mut results = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (queue, sender) = (&queue, sender.clone());
            // Spawn a thread; the scope joins it before returning.
            scope.spawn(move || {
                loop {
                    // The lock is held only to take the next number.
                    let next = queue.lock().map(|mut numbers| numbers.next());
                    let Ok(Some(number)) = next else { break };
                    // Send the result; the receiver lives until the scope
                    // ends, so this cannot fail.
                    let _ = sender.send(check(number));
                }
            });
        }
        // Drop our own sender, so the loop below ends when every thread
        // has dropped its clone.
        drop(sender);
        // Receive the results in completion order, while threads still
        // run.
        for result in receiver {
            print_result(&result);
            results.push(result);
        }
    });
    results
}

/// Whether `results` hold exactly the book's answers.
fn agrees_with_fixture(results: &[PrimeResult]) -> bool {
    let mut answers: Vec<(u64, bool)> = results
        .iter()
        .map(|result| (result.number, result.prime))
        .collect();
    answers.sort_unstable();
    answers == PRIME_FIXTURE
}

/// A primes worker's `main`: serve, and return the exit status.
fn primes_worker_main() -> i32 {
    match serve_primes() {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("primes worker: {error}");
            1
        }
    }
}

fn main() -> ExitCode {
    // First thing: serve when started as a primes worker (or as the
    // pool's fork server, which forks primes workers), and exit there.
    serve_if_requested(PrimesProtocol::NAME, primes_worker_main);
    let cpus = std::thread::available_parallelism().map_or(1, |count| count.get());
    let workers = std::env::args()
        .nth(1)
        .and_then(|text| text.parse::<usize>().ok())
        .filter(|&workers| workers > 0)
        .unwrap_or(cpus);
    // The largest numbers first, as `proc_pool.py` does, so that the long
    // checks start early.
    let mut numbers: Vec<u64> = PRIME_FIXTURE.iter().map(|&(number, _)| number).collect();
    numbers.sort_unstable_by(|a, b| b.cmp(a));

    println!(
        "Checking {} numbers with {workers} processes:",
        numbers.len()
    );
    let start = Instant::now();
    let by_processes = match with_processes(&numbers, workers) {
        Ok(results) => results,
        Err(error) => {
            eprintln!("primes: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("Total time: {:.2}s\n", start.elapsed().as_secs_f64());

    println!("Checking {} numbers with {workers} threads:", numbers.len());
    let start = Instant::now();
    let by_threads = with_threads(&numbers, workers);
    println!("Total time: {:.2}s", start.elapsed().as_secs_f64());

    if agrees_with_fixture(&by_processes) && agrees_with_fixture(&by_threads) {
        ExitCode::SUCCESS
    } else {
        eprintln!("primes: some result differs from the book's table");
        ExitCode::FAILURE
    }
}

// What the two timings show.
//
// In CPython, `threads.py` with N threads takes about as long as the
// sequential script, whatever N: the Global Interpreter Lock lets only one
// thread run Python bytecode at a time, so CPU-bound threads take turns on
// one core. `proc_pool.py` is the way around it: each worker process has
// its own interpreter and its own GIL, so N processes keep N cores busy,
// at the price of starting interpreters and pickling every argument and
// result through a pipe.
//
// Rust has no GIL. The threads above already run on every core at once,
// and the two timings come out about the same: the processes pay only a
// few milliseconds for starting the workers and for the round trips over
// the pipes, lost in the noise of seconds of work. So in Rust a process
// pool buys no speed for CPU-bound work;
// what it buys is isolation: a worker that crashes, leaks or corrupts its
// memory takes down only itself, and the parent replaces it (see the
// failure tests of this crate). Choose processes for that, or to run code
// you do not trust; choose threads (or rayon) for speed.
