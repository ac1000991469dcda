//! Retries on a paused clock: the backoff waits as the policy says, and a
//! task waiting to retry holds no permit.
//!
//! `#[tokio::test(start_paused = true)]` runs the test on a current-thread
//! runtime whose clock stands still: when every task is waiting and a
//! timer is the next thing due, the clock jumps to it. The backoff sleeps
//! therefore take no real time, and the time the test reads back is
//! exactly the sum of the sleeps. The server runs on its own thread and
//! runtime, in real time.
//!
//! The client has no timeout and no idle-connection timer: on a paused
//! clock, any timer pending while a request waits on its socket would fire
//! at once and spoil the request or the sum.

use flags_async::{AsyncOptions, HttpClient, download_one};
use flags_core::save::NameClaims;
use flags_core::{DownloadJob, DownloadStatus};
use flags_server::{Fault, FlagServer, ServerConfig};
use tokio::sync::Semaphore;
use tokio::time::{Duration, Instant};

/// A reqwest client without timers (the clock is paused), for both of its
/// parts.
fn client_without_timers() -> HttpClient {
    let build = || {
        reqwest::Client::builder()
            .pool_idle_timeout(None)
            .build()
            .expect("a client without timers")
    };
    HttpClient::from_clients(build(), build())
}

/// BR fails twice with a 500, then succeeds. Its waits are 25..50 ms then
/// 50..100 ms (the default policy: 50 ms, doubled, with jitter), and it
/// holds no permit while it waits: another task asking for the only permit
/// gets it as soon as BR's first attempt ends, before any time has passed.
#[tokio::test(start_paused = true)]
async fn backoff_follows_the_policy_and_releases_the_permit() {
    let mut config = ServerConfig::default();
    config.scripted.insert(
        "br".to_string(),
        vec![Fault::Status(500), Fault::Status(500)],
    );
    let server = FlagServer::start(config).expect("the server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let mut job = DownloadJob::new(vec!["BR".into()], server.base_url(), dest.path());
    job.retries = 3;
    let client = client_without_timers();
    let semaphore = Semaphore::new(1);
    let options = AsyncOptions::default();
    let names = NameClaims::default();
    let start = Instant::now();
    // Another task that wants the permit: it says when it got it.
    let other_task = async {
        let _permit = semaphore.acquire().await.expect("the semaphore is open");
        start.elapsed()
    };

    // `join!` polls BR first, so BR takes the permit and the other waits.
    let (brazil, permit_came_after) = tokio::join!(
        download_one(&client, &semaphore, "BR", &job, &options, &names),
        other_task,
    );
    let waited = start.elapsed();

    assert_eq!(
        brazil.map(|outcome| outcome.status()),
        Some(DownloadStatus::Ok)
    );
    assert!(
        (Duration::from_millis(75)..=Duration::from_millis(150)).contains(&waited),
        "the two waits added up to {waited:?}"
    );
    // Holding the permit while waiting would make this at least 25 ms.
    assert!(
        permit_came_after < Duration::from_millis(25),
        "{permit_came_after:?}"
    );
    assert_eq!(server.stats().requests, 3);
}

/// A 404 is never retried and costs no wait, whatever `--retries` says.
#[tokio::test(start_paused = true)]
async fn not_found_is_not_retried() {
    let server = FlagServer::start(ServerConfig::default()).expect("the server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let mut job = DownloadJob::new(vec!["ZZ".into()], server.base_url(), dest.path());
    job.retries = 5;
    let client = client_without_timers();
    let semaphore = Semaphore::new(1);

    let start = Instant::now();
    let options = AsyncOptions::default();
    let outcome = download_one(
        &client,
        &semaphore,
        "ZZ",
        &job,
        &options,
        &NameClaims::default(),
    )
    .await;

    assert_eq!(
        outcome.map(|outcome| outcome.status()),
        Some(DownloadStatus::NotFound)
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(server.stats().requests, 1);
}
