//! Every variant against the in-process flag server, beyond the shared
//! contract: the concurrency the server sees, and a larger mixed run.

use std::time::Duration;

mod common;

use common::VARIANTS;
use flags_core::{DownloadJob, StatusCounter};
use flags_server::{Delay, Fault, FlagServer, ServerConfig};
use flags_testkit::contract::check_saved_files;

fn job(codes: &[&str], server: &FlagServer, dest: &std::path::Path, max_req: usize) -> DownloadJob {
    let mut codes: Vec<String> = codes.iter().map(|code| code.to_string()).collect();
    codes.sort();
    DownloadJob::new(codes, server.base_url(), dest).with_max_req(max_req)
}

/// With 45 codes, a 100 ms delay and `-m 15`, the server sees exactly 15
/// requests at once, on every variant: every thread is busy, and no more
/// than `-m` run.
#[test]
fn peak_in_flight_equals_max_req_when_codes_outnumber_workers() {
    for (variant, _, _) in &VARIANTS {
        let name = variant.name;
        // Half a second: long enough that all 15 requests of a round are
        // in flight together even while the load test beside this one
        // starts its 676 threads on a 2-core machine.
        let server = FlagServer::start(ServerConfig {
            delay: Delay::Fixed(Duration::from_millis(500)),
            ..ServerConfig::default()
        })
        .unwrap();
        let dest = tempfile::tempdir().unwrap();
        let codes: Vec<&str> = flags_core::countries::all_cc()
            .into_iter()
            .take(45)
            .collect();
        let counter = variant
            .download_many(&job(&codes, &server, dest.path(), 15))
            .unwrap();
        assert_eq!(
            counter,
            StatusCounter {
                ok: 45,
                not_found: 0,
                error: 0
            },
            "{name}"
        );
        let stats = server.stats();
        assert_eq!(stats.peak_in_flight, 15, "{name}");
        assert_eq!(stats.requests, 45, "{name}");
        assert_eq!(check_saved_files(name, dest.path(), &codes), Ok(()));
    }
}

/// Every possible code `AA..ZZ` (676) with 418s, timeouts and 404s mixed
/// in: every variant counts the same totals, and save exactly the flags they
/// count as downloaded.
#[test]
fn every_code_with_faults_gives_the_same_totals() {
    // Long enough that a loaded machine does not turn a good answer into a
    // timeout (reqwest's one runtime thread carries every connection).
    let timeout = Duration::from_secs(2);
    let mut config = ServerConfig::default();
    let teapots = ["ar", "br", "cn", "de", "eg"];
    let slow = ["fr", "gh", "in"];
    for code in teapots {
        config
            .scripted
            .insert(code.into(), vec![Fault::Status(418); 4]);
    }
    for code in slow {
        config
            .scripted
            .insert(code.into(), vec![Fault::Delay(timeout * 3); 4]);
    }
    let every: Vec<String> = flags_core::countries::every_cc();
    let every: Vec<&str> = every.iter().map(String::as_str).collect();
    let all_count = flags_core::countries::all_cc().len();
    let expected = StatusCounter {
        ok: all_count - teapots.len() - slow.len(),
        not_found: every.len() - all_count,
        error: teapots.len() + slow.len(),
    };
    for (variant, _, _) in &VARIANTS {
        let name = variant.name;
        let server = FlagServer::start(config.clone()).unwrap();
        let dest = tempfile::tempdir().unwrap();
        let mut job = job(&every, &server, dest.path(), 30);
        job.timeout = timeout;
        let counter = variant.download_many(&job).unwrap();
        assert_eq!(counter, expected, "{name}");
        let downloaded: Vec<&str> = flags_core::countries::all_cc()
            .into_iter()
            .filter(|code| !teapots.contains(&code.to_lowercase().as_str()))
            .filter(|code| !slow.contains(&code.to_lowercase().as_str()))
            .collect();
        assert_eq!(check_saved_files(name, dest.path(), &downloaded), Ok(()));
        assert_eq!(server.stats().requests, every.len() as u64, "{name}");
    }
}

/// Load: `-e -m 1000` against a 0.2 s delay, on every variant: no error,
/// and all 676 requests in flight at once.
#[test]
fn every_code_at_once_on_every_variant() {
    for (variant, _, _) in &VARIANTS {
        assert_eq!(
            flags_testkit::contract::check_load(variant),
            Ok(()),
            "{variant:?}"
        );
    }
}

/// A client that panics in the middle of a request: a bug, never a
/// failed flag.
#[derive(Clone)]
struct PanickingClient;

impl flags_seq::BlockingClient for PanickingClient {
    fn get_flag(&self, _: &str, _: &str) -> Result<Vec<u8>, flags_core::fetch::FetchError> {
        panic!("no flag today")
    }
}

/// A download that panics is counted as an error naming the panic, on
/// every executor, and the run goes on to count every code.
#[test]
fn a_panicking_download_is_an_error_outcome_on_every_executor() {
    let dest = tempfile::tempdir().unwrap();
    let codes = vec!["BR".to_string(), "CN".to_string(), "IN".to_string()];
    let job = DownloadJob::new(codes, "http://127.0.0.1:9", dest.path()).with_max_req(2);
    let expected = StatusCounter {
        ok: 0,
        not_found: 0,
        error: 3,
    };
    let client = PanickingClient;
    assert_eq!(
        flags_threadpool::std_pool(&job, client.clone()).unwrap(),
        expected
    );
    assert_eq!(
        flags_threadpool::rayon_pool(&job, &client).unwrap(),
        expected
    );
    assert_eq!(
        flags_threadpool::thread_per_code(&job, &client).unwrap(),
        expected
    );
}
