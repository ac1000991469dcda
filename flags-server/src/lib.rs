//! The local flag server: the test rig of every concurrency model.
//!
//! The book's examples download flags from a web server; this crate is that
//! server, on your own machine, with knobs. It answers
//!
//! - `GET /flags/{cc}/{cc}.gif`: the flag of a country (`image/gif`), for the
//!   194 lower-case codes `ad` to `zw`;
//! - `GET /flags/{cc}/metadata.json`: `{"tld_cc": ".br", "iso_cc": "BR",
//!   "country": "Brazil", "gec_cc": "BR"}`;
//! - `GET /stats`: the [`Stats`] in JSON, and `POST /stats/reset` with the
//!   header `X-Flags-Reset: 1` ([`RESET_HEADER`]) to zero them (a header
//!   no web page can send to this server, so no page can spoil a
//!   measurement);
//! - `404 Not Found` for anything else.
//!
//! Around that, a [`ServerConfig`] adds what makes downloading interesting:
//! a [`Delay`] (fixed or uniform), an error rate (418 I'm a teapot, as in the
//! book), random or scripted [`Fault`]s (other statuses, dropped, reset and
//! truncated connections, stalls, huge and slow bodies, bodies that drip a
//! byte every [`DRIP_INTERVAL`], redirects of every kind, broken framing,
//! odd heads, pages that are no GIF: every row of [`FAULT_MODES`], the one
//! table of what the server can do and what a client must make of it), and
//! a seed to make all of it repeatable.
//! With a [`TlsIdentity`] in [`ServerConfig::tls`] it speaks HTTPS instead
//! of HTTP, on the same port.
//!
//! # A tour of the modules
//!
//! - `images`: the built-in data. [`builtin_flag`] paints a distinct GIF per
//!   code, once, deterministically; [`builtin_metadata`] writes its JSON.
//! - `config`: [`ServerConfig`], [`Delay`] and [`Fault`]: what a server does
//!   besides serving.
//! - `faults`: [`FAULT_MODES`], the table of fault modes, behind
//!   `--fault`, `docs/faults.md` and the test kit's fault matrix.
//! - `server`: [`FlagServer`], the handle. It owns a std thread that owns a
//!   tokio runtime, which runs the accept loop, one task per connection
//!   (the TLS handshake for HTTPS, then hyper, HTTP/1.1 with keep-alive)
//!   and the request handler.
//! - `tls`: [`TlsIdentity`], a self-signed certificate made at start
//!   (rcgen) and the rustls configuration that serves it, both on ring.
//! - `stats`: the counters behind [`Stats`] and the [`RequestRecord`] log.
//! - `cli`: the `flags-server` command line ([`run_cli`]); `main.rs` only
//!   calls it.
//!
//! # Using it from tests and benchmarks
//!
//! ```
//! use std::io::{Read, Write};
//! use flags_server::{FlagServer, ServerConfig};
//!
//! let server = FlagServer::start(ServerConfig::default())?;
//! // Any HTTP client will do; here, a bare socket.
//! let mut stream = std::net::TcpStream::connect(server.addr())?;
//! stream.write_all(b"GET /flags/br/br.gif HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//! let mut answer = Vec::new();
//! stream.read_to_end(&mut answer)?;
//! assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
//! assert_eq!(server.stats().by_status[&200], 1);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Invariants
//!
//! - This is the only crate of the workspace that listens on a socket.
//! - It never serves a file outside the directory it was given.
//! - It knows nothing of the models that download from it: they are judged
//!   from the outside, by what the server saw (`peak_in_flight`, the log).

mod cli;
mod config;
mod faults;
mod images;
mod server;
mod stats;
mod tls;

pub use cli::run_cli;
pub use config::{DRIP_INTERVAL, Delay, Fault, HUGE_HEAD_PADDING, ParseDelayError, ServerConfig};
pub use faults::{
    FAULT_MODES, FaultMode, Outcome, fault_help, fault_mode, fault_table_markdown, parse_fault_rate,
};
pub use images::{builtin_flag, builtin_metadata};
pub use server::{FlagServer, RESET_HEADER};
pub use stats::{RequestRecord, Stats};
pub use tls::TlsIdentity;
