//! The `flags-server` command line: the three standard servers of the book,
//! or one server with the delay, errors and faults you ask for.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::config::{Delay, Fault, ServerConfig};
use crate::faults::{fault_help, parse_fault_rate};
use crate::server::FlagServer;
use crate::tls::TlsIdentity;

/// Where `--tls` writes the certificate when `--cert-out` is not given.
const DEFAULT_CERT_OUT: &str = "flags-server-ca.pem";
/// `--header-timeout` when not given, in seconds: hyper's own default,
/// long enough for any client that means to send a request.
const DEFAULT_HEADER_TIMEOUT: &str = "30";

/// The local flag server: serves 194 country flags over HTTP, with optional
/// delays, errors and faults, to test and compare HTTP clients.
///
/// With no option it starts the three servers of the book in one process:
/// LOCAL on port 8000 (no delay), DELAY on 8001 (0.5 to 5 s) and ERROR on
/// 8002 (0.5 s, and 418 I'm a teapot for a quarter of the requests).
/// With --port it starts one server, shaped by the other options.
/// With --tls they speak HTTPS, with a certificate made at start.
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

    /// Serve this country name in CC's metadata.json, e.g. jp=Brazil
    /// (repeatable; two codes with one name test a client's --metadata).
    #[arg(long = "country-name", value_name = "CC=NAME", value_parser = parse_country_name, requires = "port")]
    country_names: Vec<(String, String)>,

    /// Close each connection right after its response, without a
    /// Connection: close header (clients must retry on a new connection).
    #[arg(long, requires = "port")]
    close_after_response: bool,

    /// Probability of sending the body one byte every 0.5 s (even a 1 KB
    /// flag would take over 8 minutes), to catch clients whose timeout
    /// misses the body.
    #[arg(long, value_name = "P", value_parser = parse_probability, requires = "port")]
    drip_rate: Option<f64>,

    /// Inject a fault mode into the flag requests, at a rate or into every
    /// one (repeatable), e.g. reset:0.1 or reset; --help lists them.
    #[arg(
        long = "fault",
        value_name = "NAME[:RATE]",
        value_parser = parse_fault_rate,
        requires = "port",
        long_help = fault_help(),
    )]
    faults: Vec<(Fault, f64)>,

    /// Close a connection that has not sent a whole request head within
    /// SECS, counted from its start or its last response: slow heads and
    /// idle keep-alive connections (0: never).
    #[arg(
        long,
        value_name = "SECS",
        default_value = DEFAULT_HEADER_TIMEOUT,
        value_parser = parse_timeout
    )]
    header_timeout: Duration,

    /// Speak HTTPS instead of HTTP, with a self-signed certificate for
    /// localhost, 127.0.0.1 and ::1 made at start (one for all the servers).
    #[arg(long)]
    tls: bool,

    /// Where --tls writes the certificate clients must trust, in PEM
    /// [default: flags-server-ca.pem].
    #[arg(long, value_name = "FILE", requires = "tls")]
    cert_out: Option<PathBuf>,
}

/// Reads a probability: a number from 0 to 1.
fn parse_probability(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(probability) if (0.0..=1.0).contains(&probability) => Ok(probability),
        _ => Err(format!("{text:?} is not a probability from 0 to 1")),
    }
}

/// Reads a number of seconds, 0 or more.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| format!("{text:?} is not a number of seconds"))
}

/// Reads a `CC=NAME` pair such as `jp=Brazil` (the code in any case).
fn parse_country_name(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((code, name)) if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Ok((code.to_ascii_lowercase(), name.to_string()))
        }
        _ => Err(format!("{text:?} is not CC=NAME, e.g. jp=Brazil")),
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
            header_read_timeout: (!self.header_timeout.is_zero()).then_some(self.header_timeout),
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
                close_after_response: self.close_after_response,
                country_names: self.country_names.into_iter().collect(),
                drip_rate: self.drip_rate.unwrap_or(0.0),
                fault_rates: self.faults,
                ..base
            },
        }]
    }
}

/// Runs the `flags-server` command line; `main` only calls this.
///
/// With `--tls`, it first makes the certificate, writes it to the
/// `--cert-out` file and prints that file's name on stdout:
/// `CA certificate for https clients: flags-server-ca.pem (use --cacert
/// flags-server-ca.pem)`.
///
/// Exit status: 0 after Ctrl-C or SIGTERM; 1 when a server cannot start
/// (port in use, missing directory) or the certificate cannot be written,
/// with one line saying why; 2 for a usage error, with clap's message and
/// the usage.
pub fn run_cli() -> ExitCode {
    // On a usage error this prints the message and exits with status 2.
    let arguments = Arguments::parse();

    let identity = if arguments.tls {
        let cert_out = arguments
            .cert_out
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CERT_OUT));
        match make_identity(&cert_out) {
            Ok(identity) => Some(identity),
            Err(message) => {
                eprintln!("flags-server: {message}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };

    // Listen for the stop signals before any server starts: once a banner
    // is printed, a SIGTERM must mean a clean stop, not the default action
    // (death with status 143) of a signal nobody listens for yet.
    let stop_signals = match StopSignals::install() {
        Ok(stop_signals) => stop_signals,
        Err(error) => {
            eprintln!("flags-server: cannot wait for signals: {error}");
            return ExitCode::FAILURE;
        }
    };

    let mut plans = arguments.plans();
    for plan in &mut plans {
        // One identity for every server: a client trusts one file for all.
        plan.config.tls = identity.clone();
    }
    let mut servers = Vec::new();
    for plan in plans {
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

    if let Err(error) = stop_signals.wait() {
        eprintln!("flags-server: cannot wait for signals: {error}");
        return ExitCode::FAILURE;
    }
    eprintln!("flags-server: shutting down");
    // Each handle stops its server and joins its thread as it is dropped.
    drop(servers);
    ExitCode::SUCCESS
}

/// Makes the certificate of `--tls`, writes it to `cert_out` and says where
/// on stdout; the error is one line naming the file.
fn make_identity(cert_out: &Path) -> Result<TlsIdentity, String> {
    let identity = TlsIdentity::generate().map_err(|error| error.to_string())?;
    write_atomically(cert_out, identity.cert_pem().as_bytes()).map_err(|error| {
        format!(
            "cannot write the CA certificate to {}: {error}",
            cert_out.display()
        )
    })?;
    let shown = cert_out.display();
    // A closed stdout must not stop the server (nor panic, as `println!`
    // would): the file is written, which is what matters.
    let _ = writeln!(
        io::stdout(),
        "CA certificate for https clients: {shown} (use --cacert {shown})"
    );
    Ok(identity)
}

/// Writes `bytes` to a temporary file next to `path`, then renames it to
/// `path`: a client reading `path` sees the old file or the whole new one,
/// never a partial one.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".flags-server-ca-").suffix(".tmp");
    // A certificate is public: let other users' clients read it too (the
    // temporary file would otherwise be private to us).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut file = builder.tempfile_in(folder)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    // If anything above failed, dropping `file` removes the temporary file.
    file.persist(path).map_err(|error| error.error)?;
    Ok(())
}

/// Ctrl-C (SIGINT) and, on Unix, SIGTERM, listened for from
/// [`install`](StopSignals::install) on.
struct StopSignals {
    /// The servers run on their own threads and runtimes; this small
    /// single-threaded runtime is only here to wait for a signal.
    runtime: tokio::runtime::Runtime,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Starts listening: from now on these signals are queued for
    /// [`wait`](Self::wait) instead of killing the process.
    fn install() -> io::Result<StopSignals> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            // `signal` registers with the runtime's signal driver, so it
            // must be called inside the runtime: `enter` makes it current
            // for this thread until the guard is dropped.
            let (interrupt, terminate) = {
                let _inside = runtime.enter();
                (
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::terminate())?,
                )
            };
            Ok(StopSignals {
                runtime,
                interrupt,
                terminate,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals { runtime })
        }
    }

    /// Blocks until one of the signals arrives (or has arrived already).
    fn wait(self) -> io::Result<()> {
        #[cfg(unix)]
        {
            let StopSignals {
                runtime,
                mut interrupt,
                mut terminate,
            } = self;
            // Whichever signal comes first ends the wait.
            runtime.block_on(async {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            });
            Ok(())
        }
        #[cfg(not(unix))]
        {
            self.runtime.block_on(tokio::signal::ctrl_c())
        }
    }
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
        assert_eq!(
            parse_country_name("JP=Brazil"),
            Ok(("jp".to_string(), "Brazil".to_string()))
        );
        assert!(parse_country_name("Japan=Brazil").is_err());
        assert!(parse_country_name("jp").is_err());
    }

    /// `--country-name` and `--close-after-response` reach the server's
    /// configuration.
    #[test]
    fn hostile_metadata_and_closing_options() {
        let plans = Arguments::try_parse_from([
            "flags-server",
            "--port",
            "0",
            "--country-name",
            "jp=Brazil",
            "--close-after-response",
        ])
        .map(Arguments::plans)
        .expect("the options parse");
        let config = &plans[0].config;
        assert_eq!(
            config.country_names.get("jp").map(String::as_str),
            Some("Brazil")
        );
        assert!(config.close_after_response);
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

    /// `--drip-rate` needs `--port`; `--tls` goes with either shape, and
    /// `--cert-out` needs `--tls`.
    #[test]
    fn drip_rate_and_tls_options() {
        let single =
            Arguments::try_parse_from(["flags-server", "--port", "9000", "--drip-rate", "0.5"])
                .map(Arguments::plans)
                .expect("valid arguments");
        assert_eq!(single[0].config.drip_rate, 0.5);
        assert!(Arguments::try_parse_from(["flags-server", "--drip-rate", "0.5"]).is_err());
        assert!(
            Arguments::try_parse_from(["flags-server", "--port", "1", "--drip-rate", "2"]).is_err()
        );
        let standard = Arguments::try_parse_from(["flags-server", "--tls"]).expect("valid");
        assert!(standard.tls && standard.cert_out.is_none());
        let chosen = Arguments::try_parse_from(["flags-server", "--tls", "--cert-out", "ca.pem"])
            .expect("valid");
        assert_eq!(chosen.cert_out, Some(PathBuf::from("ca.pem")));
        assert!(Arguments::try_parse_from(["flags-server", "--cert-out", "ca.pem"]).is_err());
    }

    /// `--fault` takes a mode of the table with or without a rate, and
    /// needs `--port`; `--header-timeout` is 30 s unless said, 0 for none.
    #[test]
    fn fault_and_header_timeout_options() {
        let single = Arguments::try_parse_from([
            "flags-server",
            "--port",
            "9000",
            "--fault",
            "reset:0.25",
            "--fault",
            "redirect_305",
        ])
        .map(Arguments::plans)
        .expect("valid arguments");
        let config = &single[0].config;
        assert_eq!(
            config.fault_rates,
            [(Fault::Reset, 0.25), (Fault::RedirectWith(305), 1.0)]
        );
        assert_eq!(config.header_read_timeout, Some(Duration::from_secs(30)));
        assert!(Arguments::try_parse_from(["flags-server", "--fault", "reset"]).is_err());
        assert!(
            Arguments::try_parse_from(["flags-server", "--port", "1", "--fault", "nope"]).is_err()
        );
        let standard = Arguments::try_parse_from(["flags-server", "--header-timeout", "0"])
            .map(Arguments::plans)
            .expect("valid arguments");
        assert!(
            standard
                .iter()
                .all(|plan| plan.config.header_read_timeout.is_none())
        );
        let short = Arguments::try_parse_from(["flags-server", "--header-timeout", "0.5"])
            .map(Arguments::plans)
            .expect("valid arguments");
        assert_eq!(
            short[0].config.header_read_timeout,
            Some(Duration::from_millis(500))
        );
        assert!(Arguments::try_parse_from(["flags-server", "--header-timeout", "-1"]).is_err());
    }

    /// The certificate file is replaced whole, and no temporary file is
    /// left next to it; a missing folder is an error, not a panic.
    #[test]
    fn certificate_is_written_atomically() {
        let folder = tempfile::tempdir().expect("temp dir");
        let path = folder.path().join("ca.pem");
        write_atomically(&path, b"old").expect("written");
        write_atomically(&path, b"new").expect("replaced");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
        let names = flags_testkit::report::file_names(folder.path()).expect("list");
        assert_eq!(names, ["ca.pem"]);
        let missing = folder.path().join("no").join("ca.pem");
        assert!(write_atomically(&missing, b"x").is_err());
    }
}
