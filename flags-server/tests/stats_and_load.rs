//! What the server counts, how much it holds at once, and how it stops.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::{
    assert_closed_without_answer, raw_get, raw_request_with, send_get, start, wait_for_stats,
};
use flags_core::countries::all_cc;
use flags_server::{Delay, FlagServer, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `/stats` counts requests and statuses (not itself), and
/// `POST /stats/reset` with `X-Flags-Reset: 1` zeroes them.
#[test]
fn stats_count_and_reset_over_http() {
    let server = start(ServerConfig::default());
    for path in [
        "/flags/br/br.gif",
        "/flags/cn/metadata.json",
        "/flags/zz/zz.gif",
    ] {
        let _ = raw_get(server.addr(), path).expect("answer");
    }
    let response = raw_get(server.addr(), "/stats").expect("stats");
    assert_eq!(response.header("content-type"), Some("application/json"));
    let stats: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(stats["requests"], 3);
    assert_eq!(stats["by_status"]["200"], 2);
    assert_eq!(stats["by_status"]["404"], 1);
    assert_eq!(stats["in_flight"], 0);
    assert_eq!(stats["peak_in_flight"], 1);
    assert_eq!(server.stats().requests, 3);

    let reset = raw_request_with(
        server.addr(),
        "POST",
        "/stats/reset",
        &[("X-Flags-Reset", "1")],
    )
    .expect("reset");
    assert_eq!(reset.status, 200);
    let stats = server.stats();
    assert_eq!((stats.requests, stats.peak_in_flight), (0, 0));
    assert!(stats.by_status.is_empty() && stats.faults.is_empty());
    assert!(server.request_log().is_empty());
}

/// No request a web page could send cross-site resets the statistics: a
/// plain POST (what a form sends), a POST with the header set to anything
/// but 1, another method, and the CORS preflight, which is refused (403,
/// no `Access-Control-Allow-*`), so a browser never sends the header
/// itself. Each is 403, and no counter moves.
#[test]
fn stats_reset_needs_its_header() {
    let server = start(ServerConfig::default());
    let _ = raw_get(server.addr(), "/flags/br/br.gif").expect("answer");
    let preflight = [
        ("Origin", "https://evil.example"),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "x-flags-reset"),
    ];
    for (method, headers) in [
        ("POST", &[][..]),
        ("POST", &[("Content-Type", "text/plain")][..]),
        ("POST", &[("X-Flags-Reset", "yes")][..]),
        ("GET", &[("X-Flags-Reset", "1")][..]),
        ("OPTIONS", &preflight[..]),
    ] {
        let refused =
            raw_request_with(server.addr(), method, "/stats/reset", headers).expect("answer");
        assert_eq!(refused.status, 403, "{method} {headers:?}");
        assert!(
            refused
                .headers
                .iter()
                .all(|(name, _)| !name.starts_with("access-control-")),
            "{:?}",
            refused.headers
        );
    }
    let stats = server.stats();
    assert_eq!((stats.requests, stats.by_status[&200]), (1, 1));
}

/// `reset_stats` zeroes the counters too, and the log starts again.
#[test]
fn reset_stats_starts_a_new_count() {
    let server = start(ServerConfig::default());
    let _ = raw_get(server.addr(), "/flags/br/br.gif").expect("answer");
    server.reset_stats();
    assert_eq!(server.stats().requests, 0);
    let _ = raw_get(server.addr(), "/flags/jp/jp.gif").expect("answer");
    let log = server.request_log();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].path.as_str(), log[0].status),
        ("/flags/jp/jp.gif", 200)
    );
}

/// The request log has one record per request, with honest times.
#[test]
fn request_log_records_the_timeline() {
    let server = start(ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(100)),
        ..ServerConfig::default()
    });
    for code in ["br", "cn"] {
        let _ = raw_get(server.addr(), &format!("/flags/{code}/{code}.gif")).expect("answer");
    }
    let log = server.request_log();
    let paths: Vec<&str> = log.iter().map(|record| record.path.as_str()).collect();
    assert_eq!(paths, ["/flags/br/br.gif", "/flags/cn/cn.gif"]);
    for record in &log {
        assert_eq!((record.status, record.fault.as_deref()), (200, None));
        assert!(record.finished - record.started >= Duration::from_millis(100));
    }
    assert!(log[0].finished <= log[1].started);
}

/// With N clients at once against a delayed server, `peak_in_flight` is N.
/// The delay outlasts the test, so all N are waiting together however slowly
/// a loaded machine starts the clients; shutting down then ends them all
/// without an answer.
#[test]
fn peak_in_flight_equals_concurrent_clients() {
    const CLIENTS: usize = 20;
    let server = start(ServerConfig {
        delay: Delay::Fixed(Duration::from_secs(600)),
        ..ServerConfig::default()
    });
    let addr = server.addr();
    // One thread per client.
    let clients: Vec<_> = all_cc()
        .into_iter()
        .take(CLIENTS)
        .map(|code| {
            let path = format!("/flags/{0}/{0}.gif", code.to_ascii_lowercase());
            std::thread::spawn(move || raw_get(addr, &path))
        })
        .collect();
    let stats = wait_for_stats(&server, "every client in flight", |stats| {
        stats.in_flight == CLIENTS as u64
    });
    assert_eq!(stats.requests, CLIENTS as u64);
    assert_eq!(stats.peak_in_flight, CLIENTS as u64);
    assert!(stats.by_status.is_empty(), "nobody answered yet: {stats:?}");
    server.shutdown();
    for client in clients {
        let answer = client.join().expect("client thread");
        assert!(answer.is_err(), "no answer after shutdown: {answer:?}");
    }
}

/// A thousand connections at once, at a 0.1 s delay, all get their flag.
#[test]
fn thousand_concurrent_connections_all_succeed() {
    const CONNECTIONS: usize = 1000;
    let server = start(ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(100)),
        ..ServerConfig::default()
    });
    let addr = server.addr();
    let codes: Vec<String> = all_cc().into_iter().map(str::to_ascii_lowercase).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");

    let statuses = runtime.block_on(async {
        // Open every connection first...
        let mut streams = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            streams.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
        }
        // ...and wait until the server has accepted them all, so they are
        // all open at once on its side too.
        wait_for_stats(&server, "every connection accepted", |stats| {
            stats.connections == CONNECTIONS as u64
        });
        // Then one request per connection, all concurrently.
        let mut tasks = tokio::task::JoinSet::new();
        for (index, mut stream) in streams.into_iter().enumerate() {
            let code = codes[index % codes.len()].clone();
            tasks.spawn(async move {
                let request = format!(
                    "GET /flags/{code}/{code}.gif HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                );
                stream.write_all(request.as_bytes()).await?;
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).await?;
                Ok::<_, std::io::Error>(answer)
            });
        }
        let mut statuses = Vec::with_capacity(CONNECTIONS);
        while let Some(result) = tasks.join_next().await {
            let answer = result.expect("task").expect("no I/O error");
            let response = common::parse_response(&answer, false).expect("a response");
            assert_eq!(Some(response.body.len() as u64), response.content_length());
            statuses.push(response.status);
        }
        statuses
    });

    assert_eq!(statuses, [200; CONNECTIONS]);
    let stats = server.stats();
    assert_eq!(stats.by_status[&200], CONNECTIONS as u64);
    assert_eq!(stats.connections, CONNECTIONS as u64);
    assert_eq!(stats.peak_connections, CONNECTIONS as u64);
}

/// Dropping the handle stops the server: the port refuses connections.
#[test]
fn drop_shuts_the_server_down() {
    let server = start(ServerConfig::default());
    let addr = server.addr();
    assert_eq!(
        raw_get(addr, "/flags/br/br.gif").expect("answer").status,
        200
    );
    // An idle keep-alive connection does not hold the shutdown up.
    let _idle = TcpStream::connect(addr).expect("connect");
    drop(server);
    let error = TcpStream::connect(addr).expect_err("the port is closed");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
}

/// A busy port is an error naming the address, not a panic.
#[test]
fn busy_port_is_an_error() {
    let first = start(ServerConfig::default());
    let error =
        FlagServer::start_on(first.addr(), ServerConfig::default()).expect_err("the port is taken");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    assert!(
        error.to_string().contains(&first.addr().to_string()),
        "{error}"
    );
}

/// The server is used the same way from async code: start, request, drop,
/// all inside a tokio runtime, without "runtime within runtime" panics.
#[test]
fn works_from_inside_an_async_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let server = start(ServerConfig::default());
        let mut stream = tokio::net::TcpStream::connect(server.addr())
            .await
            .expect("connect");
        stream
            .write_all(b"GET /flags/br/br.gif HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("send");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("answer");
        assert!(answer.starts_with(b"HTTP/1.1 200 OK"));
        // A failed start inside a runtime is an error, not a panic.
        let busy = FlagServer::start_on(server.addr(), ServerConfig::default());
        assert_eq!(
            busy.err().map(|error| error.kind()),
            Some(std::io::ErrorKind::AddrInUse)
        );
        drop(server);
    });
}

/// Shutting down ends a delayed request without an answer, rather than
/// sending the flag once the delay is over: the connection just closes.
/// Meanwhile `/stats` is neither delayed nor counted: it answers while the
/// flag waits its ten minutes.
#[test]
fn shutdown_ends_delayed_requests_without_an_answer() {
    let server = start(ServerConfig {
        delay: Delay::Fixed(Duration::from_secs(600)),
        ..ServerConfig::default()
    });
    let stream = send_get(server.addr(), "/flags/br/br.gif");
    wait_for_stats(&server, "the delayed request", |stats| stats.in_flight == 1);
    let response = raw_get(server.addr(), "/stats").expect("/stats answers at once");
    assert_eq!(response.status, 200);
    let stats: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(
        (&stats["requests"], &stats["in_flight"]),
        (&serde_json::json!(1), &serde_json::json!(1))
    );
    server.shutdown();
    assert_closed_without_answer(stream);
}
