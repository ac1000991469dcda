//! How late does a delayed answer come, as a client sees it?
//!
//! Opens N connections at once (676 by default, one per code `aa` to `zz`,
//! like `flags-async -e -m 676`), then sends one GET on each and times it
//! from the moment the request is written to the first byte of the answer.
//! The time to first byte minus the server's delay is the lateness; its
//! percentiles are printed per round and over all rounds.
//!
//! By default the N requests leave in one burst, so their N answers are all
//! due within a millisecond or two: the worst case, where the answers queue
//! for the CPU (the server's and this client's) whatever the timer does.
//! `--spread MS` sends them evenly over MS milliseconds instead, the steady
//! state of a run with N in flight, where the timer's precision shows.
//!
//! ```text
//! # Against a server of its own, in this process, with a 0.1 s delay:
//! cargo run --release -p flags-benches --example delay_lateness -- --delay 0.1
//! # Against a running server (its --delay must be the one given here):
//! flags-server --port 8001 --delay 0.1 &
//! cargo run --release -p flags-benches --example delay_lateness -- --delay 0.1 --addr 127.0.0.1:8001
//! ```
//!
//! The client is a bare socket on a single-threaded runtime, so its own cost
//! per answer is one read: what it measures is the server's lateness plus a
//! round trip on loopback, not a client library's overhead. A negative
//! lateness would be an answer that came early; the server never sends one.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use flags_server::{Delay, FlagServer, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the command line asks for.
struct Options {
    /// The server's delay, subtracted from each time to first byte.
    delay: Duration,
    /// A running server, or `None` to start one in this process.
    addr: Option<SocketAddr>,
    /// Connections (and requests) at once.
    connections: usize,
    /// Rounds of `connections` requests each.
    rounds: usize,
    /// The requests of a round leave evenly over this long (zero: at once).
    spread: Duration,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        delay: Duration::from_millis(100),
        addr: None,
        connections: 676,
        rounds: 5,
        spread: Duration::ZERO,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let mut value = || arguments.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--delay" => {
                let seconds: f64 = value()?.parse().map_err(|_| "--delay SECS")?;
                options.delay = Duration::try_from_secs_f64(seconds).map_err(|_| "--delay SECS")?;
            }
            "--addr" => options.addr = Some(value()?.parse().map_err(|_| "--addr HOST:PORT")?),
            "-n" | "--connections" => {
                options.connections = value()?.parse().map_err(|_| "-n N")?;
            }
            "--rounds" => options.rounds = value()?.parse().map_err(|_| "--rounds N")?,
            "--spread" => {
                let millis: u64 = value()?.parse().map_err(|_| "--spread MS")?;
                options.spread = Duration::from_millis(millis);
            }
            _ => {
                return Err(format!(
                    "unknown option {flag}; usage: delay_lateness [--delay SECS] \
                     [--addr HOST:PORT] [-n N] [--rounds N] [--spread MS]"
                ));
            }
        }
    }
    if options.connections == 0 || options.rounds == 0 {
        return Err("-n and --rounds must be at least 1".to_owned());
    }
    Ok(options)
}

/// The `n`-th of the 676 codes `aa` to `zz`, round and round.
fn code(n: usize) -> String {
    let n = n % 676;
    let letters = [b'a' + (n / 26) as u8, b'a' + (n % 26) as u8];
    String::from_utf8_lossy(&letters).into_owned()
}

/// One round: `connections` sockets opened first, then one request on each,
/// the `n`-th sent `n / connections` of the way through `spread` (all at
/// once for a zero spread). Returns each request's time to first byte.
async fn round(
    addr: SocketAddr,
    connections: usize,
    spread: Duration,
) -> std::io::Result<Vec<Duration>> {
    let mut streams = Vec::with_capacity(connections);
    for _ in 0..connections {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        streams.push(stream);
    }
    let start = tokio::time::Instant::now();
    let tasks: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(n, mut stream)| {
            let cc = code(n);
            let send_at = start + spread.mul_f64(n as f64 / connections as f64);
            tokio::spawn(async move {
                tokio::time::sleep_until(send_at).await;
                let request = format!(
                    "GET /flags/{cc}/{cc}.gif HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                );
                let sent = Instant::now();
                stream.write_all(request.as_bytes()).await?;
                let mut first = [0_u8; 1];
                stream.read_exact(&mut first).await?;
                let first_byte = sent.elapsed();
                // Read the rest, so the server's side ends as a client's
                // would, then close.
                let mut rest = Vec::new();
                stream.read_to_end(&mut rest).await?;
                Ok::<_, std::io::Error>(first_byte)
            })
        })
        .collect();
    let mut times = Vec::with_capacity(connections);
    for task in tasks {
        times.push(task.await.map_err(std::io::Error::other)??);
    }
    Ok(times)
}

/// The `p`-th percentile (0 to 100) of sorted values, nearest rank.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Prints min, p50, p90, p99 and max of the lateness, in milliseconds.
fn report(label: &str, delay: Duration, times: &[Duration]) {
    let mut lateness: Vec<f64> = times
        .iter()
        .map(|time| (time.as_secs_f64() - delay.as_secs_f64()) * 1000.0)
        .collect();
    lateness.sort_by(f64::total_cmp);
    let early = lateness.iter().filter(|late| **late < 0.0).count();
    println!(
        "{label:<8} n={:<5} lateness ms: min {:>6.3}  p50 {:>6.3}  p90 {:>6.3}  p99 {:>6.3}  max {:>6.3}  early {early}",
        lateness.len(),
        lateness[0],
        percentile(&lateness, 50.0),
        percentile(&lateness, 90.0),
        percentile(&lateness, 99.0),
        lateness[lateness.len() - 1],
    );
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("delay_lateness: {message}");
            return ExitCode::from(2);
        }
    };
    // A server of our own unless one was named; it lives until `main` ends.
    let own_server = match options.addr {
        Some(_) => None,
        None => match FlagServer::start(ServerConfig {
            delay: Delay::Fixed(options.delay),
            ..ServerConfig::default()
        }) {
            Ok(server) => Some(server),
            Err(error) => {
                eprintln!("delay_lateness: {error}");
                return ExitCode::FAILURE;
            }
        },
    };
    let addr = options
        .addr
        .or(own_server.as_ref().map(FlagServer::addr))
        .expect("an address: given, or our own server's");
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("delay_lateness: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{} connections at once against {addr}, delay {:?}, requests over {:?}, {} rounds",
        options.connections, options.delay, options.spread, options.rounds
    );
    let mut all = Vec::new();
    for number in 1..=options.rounds {
        match runtime.block_on(round(addr, options.connections, options.spread)) {
            Ok(times) => {
                report(&format!("round {number}"), options.delay, &times);
                all.extend(times);
            }
            Err(error) => {
                eprintln!("delay_lateness: round {number}: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    report("all", options.delay, &all);
    ExitCode::SUCCESS
}
