//! The shared command line: every row of code expansion and every usage
//! error, checked through the same parser the binaries use.

use std::time::Duration;

use flags_core::cli::{ParsedArgs, parse_args};
use flags_core::{DownloadJob, NoOptions};

const DEFAULT_MAX_REQ: usize = 30;
const MAX_MAX_REQ: usize = 1000;

fn parse(args: &[&str]) -> Result<ParsedArgs<NoOptions>, clap::Error> {
    let argv = std::iter::once("flags-test").chain(args.iter().copied());
    parse_args::<NoOptions, _, _>(argv, DEFAULT_MAX_REQ, MAX_MAX_REQ)
}

fn job(args: &[&str]) -> DownloadJob {
    match parse(args) {
        Ok(parsed) => parsed.job,
        Err(error) => panic!("{args:?} should parse: {error}"),
    }
}

fn codes(args: &[&str]) -> Vec<String> {
    job(args).country_codes
}

/// No code, `-a` or `-e`: the 20 most populous countries, sorted.
#[test]
fn default_is_pop20_sorted() {
    let expected: Vec<&str> = "BD BR CD CN DE EG ET FR ID IN IR JP MX NG PH PK RU TR US VN"
        .split(' ')
        .collect();
    assert_eq!(codes(&[]), expected);
}

/// The limit applies after sorting, also to the default list.
#[test]
fn limit_applies_after_sorting() {
    assert_eq!(codes(&["-l", "3"]), ["BD", "BR", "CD"]);
    assert_eq!(codes(&["jp", "br", "cn", "--limit", "2"]), ["BR", "CN"]);
}

/// Codes are upper-cased, deduplicated and sorted.
#[test]
fn codes_are_normalised() {
    assert_eq!(codes(&["us", "BR", "br", "Us"]), ["BR", "US"]);
}

/// One letter expands to its 26 codes, and mixes with two-letter codes.
#[test]
fn one_letter_expands() {
    let expected: Vec<String> = std::iter::once("BR".to_string())
        .chain(('A'..='Z').map(|letter| format!("Z{letter}")))
        .collect();
    assert_eq!(codes(&["z", "BR"]), expected);
}

/// `-a` is the 194 flags AD..ZW; `-e` is the 676 codes AA..ZZ.
#[test]
fn all_and_every() {
    let all = codes(&["-a"]);
    assert_eq!(
        (all.len(), all[0].as_str(), all[193].as_str()),
        (194, "AD", "ZW")
    );
    let every = codes(&["--every"]);
    assert_eq!(
        (every.len(), every[0].as_str(), every[675].as_str()),
        (676, "AA", "ZZ")
    );
    assert_eq!(codes(&["-e", "-a"]).len(), 676, "-e wins over -a");
    assert_eq!(codes(&["-a", "-l", "5"]), ["AD", "AE", "AF", "AG", "AL"]);
}

/// The concurrency is min(-m, the model's maximum, the number of codes).
#[test]
fn actual_max_req() {
    assert_eq!(job(&["-a"]).max_req, DEFAULT_MAX_REQ);
    assert_eq!(job(&["-a", "-m", "5"]).max_req, 5);
    assert_eq!(job(&["-e", "-m", "5000"]).max_req, 676);
    let process_model =
        parse_args::<NoOptions, _, _>(["flags-test", "-e", "-m", "1000"], 2, 256).expect("parses");
    assert_eq!(process_model.job.max_req, 256);
    assert_eq!(job(&["BR", "JP", "-m", "30"]).max_req, 2);
}

/// Labels in any case, and URLs, resolve to base URLs.
#[test]
fn servers() {
    let parsed = parse(&["-s", "delay"]).expect("label parses");
    assert_eq!(parsed.server.label, "DELAY");
    assert_eq!(parsed.job.base_url, "http://localhost:8001/flags");
    let parsed = parse(&["--server", "http://127.0.0.1:9/flags/"]).expect("url parses");
    assert_eq!(parsed.job.base_url, "http://127.0.0.1:9/flags");
    assert_eq!(job(&[]).base_url, "http://localhost:8000/flags");
}

/// The other options and their defaults.
#[test]
fn options_and_defaults() {
    let defaults = job(&[]);
    assert_eq!(defaults.timeout, Duration::from_secs_f64(3.1));
    assert_eq!(defaults.retries, 0);
    assert!(!defaults.verbose);
    assert_eq!(defaults.dest_dir, std::path::PathBuf::from("downloaded"));
    let custom = job(&["-v", "-d", "/tmp/x", "--timeout", "0.5", "--retries", "3"]);
    assert_eq!(custom.timeout, Duration::from_millis(500));
    assert_eq!(custom.retries, 3);
    assert!(custom.verbose);
    assert_eq!(custom.dest_dir, std::path::PathBuf::from("/tmp/x"));
    assert_eq!(job(&["--retries", "100"]).retries, 100);
    // The shortest and the longest timeouts.
    assert_eq!(
        job(&["--timeout", "0.001"]).timeout,
        Duration::from_millis(1)
    );
    assert_eq!(
        job(&["--timeout", "86400"]).timeout,
        Duration::from_secs(86_400)
    );
    // No option for the cap on retry waits: 5 s, the same as `new`'s.
    assert_eq!(defaults.max_retry_wait, Duration::from_secs(5));
    assert_eq!(
        flags_core::retry::RetryPolicy::for_job(&defaults).max_delay,
        Duration::from_secs(5)
    );
    assert_eq!(
        defaults.max_retry_wait,
        DownloadJob::new(Vec::new(), "http://localhost:8000/flags", "downloaded").max_retry_wait
    );
}

/// `--cacert` takes a PEM file holding a certificate; one with none is a
/// usage error that says so.
#[test]
fn cacert_is_checked_before_the_run() {
    let dir = std::env::temp_dir().join(format!("flags-core-cacert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let good = dir.join("ca.pem");
    std::fs::write(
        &good,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .expect("written");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "no certificate here").expect("written");
    let good_text = good.to_string_lossy().into_owned();
    assert_eq!(job(&["--cacert", &good_text]).ca_cert, Some(good.clone()));
    let empty_text = empty.to_string_lossy().into_owned();
    let error = parse(&["--cacert", &empty_text]).expect_err("no certificate");
    assert_eq!(error.exit_code(), 2);
    assert!(error.to_string().contains("no PEM certificate"), "{error}");
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}

/// Every usage error is a clap error with exit code 2 and a message that
/// names the problem.
#[test]
fn usage_errors_exit_2() {
    let rows: &[(&[&str], &str)] = &[
        (&["B1"], "B1"),
        (&["BRA"], "BRA"),
        (&["1"], "'1'"),
        (&[""], "''"),
        (&["-m", "0"], "0"),
        (&["-m", "-1"], "-1"),
        (&["-m", "many"], "many"),
        (&["-l", "0"], "0"),
        (&["-s", "LOCL"], "LOCL"),
        (&["-s", "ftp://example.com/flags"], "ftp://"),
        (&["-s", "http://"], "http://"),
        (&["--timeout", "0"], "0"),
        (&["--timeout", "-2"], "-2"),
        (&["--timeout", "NaN"], "NaN"),
        (&["--retries", "x"], "x"),
        (&["--retries", "101"], "from 0 to 100"),
        (&["--retries", "-1"], "from 0 to 100"),
        (&["-l", "-1"], "not a whole number of 1 or more"),
        (&["-m", "-3"], "not a whole number of 1 or more"),
        (
            &["--timeout", "-1"],
            "must be from 0.001 (1 ms) to 86400 seconds",
        ),
        // Under a millisecond: a usage error, not an unreachable server.
        (
            &["--timeout", "1e-12"],
            "must be from 0.001 (1 ms) to 86400 seconds, not 1e-12",
        ),
        (&["--timeout", "0.0009"], "not 0.0009"),
        (&["--timeout", "86401"], "not 86401"),
        (
            &["--cacert", "/nonexistent/ca.pem"],
            "--cacert /nonexistent/ca.pem",
        ),
        (&["--bogus"], "--bogus"),
    ];
    for (args, named) in rows {
        match parse(args) {
            Ok(parsed) => panic!("{args:?} should be a usage error, got {:?}", parsed.job),
            Err(error) => {
                assert_eq!(error.exit_code(), 2, "{args:?}");
                let message = error.to_string();
                assert!(message.contains(named), "{args:?}: {message}");
            }
        }
    }
}

/// `--help` is not an error: exit code 0, and it lists every option.
#[test]
fn help_lists_every_option() {
    let error = parse(&["--help"]).expect_err("help stops parsing");
    assert_eq!(error.exit_code(), 0);
    let help = error.to_string();
    for option in [
        "--all",
        "--every",
        "--limit",
        "--max-req",
        "--server",
        "--verbose",
        "--dest",
        "--timeout",
        "--retries",
        "[default: 30]",
        "[default: LOCAL]",
        "[default: 3.1]",
    ] {
        assert!(help.contains(option), "help lacks {option}:\n{help}");
    }
}
