//! The `flags-server` command line: the three standard servers of the book,
//! or one server with the delay, errors and faults you ask for.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::config::{Delay, ServerConfig};
use crate::server::FlagServer;

/// The local flag server: serves 194 country flags over HTTP, with optional
/// delays, errors and faults, to test and compare HTTP clients.
///
/// With no option it starts the three servers of the book in one process:
/// LOCAL on port 8000 (no delay), DELAY on 8001 (0.5 to 5 s) and ERROR on
/// 8002 (0.5 s, and 418 I'm a teapot for a quarter of the requests).
/// With --port it starts one server, shaped by the other options.
/// It runs until Ctrl-C or SIGTERM.
#[derive(Parser, Debug)]
#[command(name = "flags-server", version)]
struct Arguments {
    /// Start one server on this port instead of the standard three.
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,

    /// Delay before each answer, in seconds: fixed (0.5) or uniform
    /// within a range (0.5..5.0).
    #[arg(long, value_name = "SECS", requires = "port")]
    delay: Option<Delay>,

    /// Probability of answering 418 I'm a teapot.
    #[arg(long, value_name = "P", value_parser = parse_probability, requires = "port")]
    error_rate: Option<f64>,

    /// Seed of the random delays and errors, to make them repeatable.
    #[arg(long, value_name = "SEED")]
    seed: Option<u64>,

    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,

    /// Serve {DIR}/{cc}/{cc}.gif and {DIR}/{cc}/metadata.json instead of
    /// the built-in flags.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Probability of closing the connection right after the headers.
    #[arg(long, value_name = "P", value_parser = parse_probability, requires = "port")]
    drop_rate: Option<f64>,

    /// Probability of sending only half of the body, then closing.
    #[arg(long, value_name = "P", value_parser = parse_probability, requires = "port")]
    truncate_rate: Option<f64>,

    /// Probability of never answering (until the server stops).
    #[arg(long, value_name = "P", value_parser = parse_probability, requires = "port")]
    stall_rate: Option<f64>,

    /// Probability of an 11 MiB body, over the clients' 10 MiB cap.
    #[arg(long, value_name = "P", value_parser = parse_probability, requires = "port")]
    huge_rate: Option<f64>,

    /// Probability of answering with this status, e.g. 503:0.1
    /// (repeatable; 503 and 429 come with Retry-After: 0).
    #[arg(long = "status-rate", value_name = "CODE:P", value_parser = parse_status_rate, requires = "port")]
    status_rates: Vec<(u16, f64)>,

    /// Send every body slowly, a piece at a time (about 0.3 s more).
    #[arg(long, requires = "port")]
    slow_body: bool,
}

/// Reads a probability: a number from 0 to 1.
fn parse_probability(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(probability) if (0.0..=1.0).contains(&probability) => Ok(probability),
        _ => Err(format!("{text:?} is not a probability from 0 to 1")),
    }
}

/// Reads a `CODE:P` pair such as `503:0.1`.
fn parse_status_rate(text: &str) -> Result<(u16, f64), String> {
    let (code_text, probability_text) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not CODE:P, e.g. 503:0.1"))?;
    let code = code_text
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|code| (100..=599).contains(code))
        .ok_or_else(|| format!("{code_text:?} is not an HTTP status from 100 to 599"))?;
    Ok((code, parse_probability(probability_text)?))
}

/// One server to start: its label, address and configuration.
struct Plan {
    label: &'static str,
    addr: SocketAddr,
    config: ServerConfig,
}

impl Arguments {
    /// The servers these arguments ask for.
    fn plans(self) -> Vec<Plan> {
        let base = ServerConfig {
            seed: self.seed,
            dir: self.dir.clone(),
            ..ServerConfig::default()
        };
        let Some(port) = self.port else {
            // The three servers of the book.
            let half_second = Duration::from_millis(500);
            return vec![
                Plan {
                    label: "LOCAL",
                    addr: SocketAddr::new(self.bind, 8000),
                    config: base.clone(),
                },
                Plan {
                    label: "DELAY",
                    addr: SocketAddr::new(self.bind, 8001),
                    config: ServerConfig {
                        delay: Delay::Uniform {
                            min: half_second,
                            max: Duration::from_secs(5),
                        },
                        ..base.clone()
                    },
                },
                Plan {
                    label: "ERROR",
                    addr: SocketAddr::new(self.bind, 8002),
                    config: ServerConfig {
                        delay: Delay::Fixed(half_second),
                        error_rate: 0.25,
                        ..base
                    },
                },
            ];
        };
        vec![Plan {
            label: "SERVER",
            addr: SocketAddr::new(self.bind, port),
            config: ServerConfig {
                delay: self.delay.unwrap_or_default(),
                error_rate: self.error_rate.unwrap_or(0.0),
                drop_rate: self.drop_rate.unwrap_or(0.0),
                truncate_rate: self.truncate_rate.unwrap_or(0.0),
                stall_rate: self.stall_rate.unwrap_or(0.0),
                huge_rate: self.huge_rate.unwrap_or(0.0),
                status_rates: self.status_rates,
                slow_body: self.slow_body,
                ..base
            },
        }]
    }
}

/// Runs the `flags-server` command line; `main` only calls this.
///
/// Exit status: 0 after Ctrl-C or SIGTERM; 1 when a server cannot start
/// (port in use, missing directory), with one line saying why; 2 for a
/// usage error, with clap's message and the usage.
pub fn run_cli() -> ExitCode {
    // On a usage error this prints the message and exits with status 2.
    let arguments = Arguments::parse();

    let mut servers = Vec::new();
    for plan in arguments.plans() {
        match FlagServer::start_on(plan.addr, plan.config) {
            Ok(server) => {
                eprintln!(
                    "{:<6} serving {} flags at {}",
                    plan.label,
                    server.flag_count(),
                    server.base_url()
                );
                servers.push(server);
            }
            Err(error) => {
                let hint = match error.kind() {
                    std::io::ErrorKind::AddrInUse => {
                        " (is another flags-server running? try another --port)"
                    }
                    _ => "",
                };
                eprintln!("flags-server: {error}{hint}");
                // The servers already started stop as `servers` is dropped.
                return ExitCode::FAILURE;
            }
        }
    }

    if let Err(error) = wait_for_stop_signal() {
        eprintln!("flags-server: cannot wait for signals: {error}");
        return ExitCode::FAILURE;
    }
    eprintln!("flags-server: shutting down");
    // Each handle stops its server and joins its thread as it is dropped.
    drop(servers);
    ExitCode::SUCCESS
}

/// Blocks until Ctrl-C (SIGINT) or, on Unix, SIGTERM.
fn wait_for_stop_signal() -> std::io::Result<()> {
    // The servers run on their own threads and runtimes; this small
    // single-threaded runtime is only here to wait for a signal.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut terminate = signal(SignalKind::terminate())?;
            tokio::select! {
                result = tokio::signal::ctrl_c() => result,
                _ = terminate.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The clap definition is consistent (no clashing names or flags).
    #[test]
    fn command_line_is_well_formed() {
        Arguments::command().debug_assert();
    }

    /// Probabilities and status rates are checked before any server starts.
    #[test]
    fn rates_are_validated() {
        assert_eq!(parse_probability("0.25"), Ok(0.25));
        assert!(parse_probability("1.5").is_err());
        assert!(parse_probability("-0.1").is_err());
        assert_eq!(parse_status_rate("503:0.1"), Ok((503, 0.1)));
        assert!(parse_status_rate("503").is_err());
        assert!(parse_status_rate("99:0.1").is_err());
        assert!(parse_status_rate("503:2").is_err());
    }

    /// No option gives the three servers of the book; fault options need
    /// `--port`.
    #[test]
    fn standard_servers_and_single_server() {
        let plans = Arguments::try_parse_from(["flags-server"]).map(Arguments::plans);
        let labels: Vec<_> = plans
            .iter()
            .flatten()
            .map(|plan| (plan.label, plan.addr.port()))
            .collect();
        assert_eq!(labels, [("LOCAL", 8000), ("DELAY", 8001), ("ERROR", 8002)]);
        assert!(Arguments::try_parse_from(["flags-server", "--delay", "0.1"]).is_err());
        let single = Arguments::try_parse_from([
            "flags-server",
            "--port",
            "9000",
            "--delay",
            "0.1",
            "--status-rate",
            "503:0.1",
            "--status-rate",
            "429:0.2",
        ])
        .map(Arguments::plans)
        .expect("valid arguments");
        assert_eq!(single.len(), 1);
        assert_eq!(single[0].config.status_rates, [(503, 0.1), (429, 0.2)]);
        assert_eq!(
            single[0].config.delay,
            Delay::Fixed(Duration::from_millis(100))
        );
    }
}
