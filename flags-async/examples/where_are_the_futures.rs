//! Where are the futures? Two experiments against an in-process flag
//! server, counting the requests it has seen (its `/stats`) at each step.
//!
//! ```text
//! cargo run --release -p flags-async --example where_are_the_futures
//! ```
//!
//! (a) Calling an `async fn` runs none of its body: it returns a future, a
//! state machine that does nothing until it is polled. Nothing polls it
//! until it is awaited (or spawned), so the server sees 0 requests, even
//! while the runtime sits idle; awaiting it sends the request.
//!
//! (b) `tokio::spawn` hands a future to the runtime as a task: the runtime
//! polls it as soon as the thread is free, whether or not anyone awaits
//! it. The request is made before the `JoinHandle` is awaited; awaiting
//! the handle only collects the result. The `JoinHandle` is the closest
//! thing to Python's `Future`: a handle on work already scheduled, with
//! `is_finished` (`done()`), `abort` (`cancel()`) and `.await`
//! (`result()`). `flags-threadpool`'s `futures` example shows the same
//! shape on a thread pool, `concurrent.futures` style.

use std::path::Path;
use std::time::Duration;

use flags_async::{get_flag, http_client};
use flags_core::DownloadJob;
use flags_core::script::ScriptError;
use flags_server::{Delay, FlagServer, ServerConfig};

/// A pause long enough for a 0.1 s request to be made and answered.
const PAUSE: Duration = Duration::from_millis(300);

fn main() -> Result<(), ScriptError> {
    // A server on a free port of 127.0.0.1, answering each flag after 0.1 s.
    let config = ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(100)),
        ..ServerConfig::default()
    };
    let server = FlagServer::start(config)?;
    // Print one step and the requests the server has seen so far, as its
    // `GET /stats` would report them.
    let step = |what: &str| println!("    {what:<50} requests: {}", server.stats().requests);
    let base_url = server.base_url();
    println!("A flag server at {base_url}, answering after 0.1 s.");
    let client = http_client(&DownloadJob::new(Vec::new(), &base_url, Path::new(".")))?;
    // One thread, as asyncio's event loop.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!("\n(a) Calling an async fn makes a future; nothing polls it yet.");
        let future = get_flag(&client, &base_url, "BR");
        let size = std::mem::size_of_val(&future);
        step(&format!("get_flag(BR) called: a future of {size} bytes"));
        // This task sleeps: the runtime is free to run anything it has.
        tokio::time::sleep(PAUSE).await;
        step("0.3 s later, the runtime idle all along");
        let bytes = future.await?.len();
        step(&format!("future.await: {bytes} bytes of BR, sent only now"));

        server.reset_stats();
        println!("\n(b) tokio::spawn makes a task; its JoinHandle is not awaited yet.");
        let (client, base_url) = (client.clone(), base_url.clone());
        let handle = tokio::spawn(async move { get_flag(&client, &base_url, "CN").await });
        let done = handle.is_finished();
        step(&format!("spawned, queued; is_finished: {done}"));
        // The first `.await` of anything lets the runtime poll the task.
        tokio::time::sleep(PAUSE).await;
        let done = handle.is_finished();
        step(&format!("0.3 s later, not awaited; is_finished: {done}"));
        // Outer `?`: the task panicked or was aborted; inner: the GET failed.
        let bytes = handle.await??.len();
        step(&format!("handle.await: {bytes} bytes of CN, got earlier"));
        Ok::<(), ScriptError>(())
    })?;
    println!("\nA future runs only when polled: by .await, or by the runtime once spawned.");
    println!("A JoinHandle is a handle on a task already scheduled, like Python's Future.");
    Ok(())
}
