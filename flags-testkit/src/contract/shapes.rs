//! Responses of other shapes than a plain 200 with a `Content-Length`:
//! redirects (followed, up to 10; a loop is an error) and bodies of unknown
//! length (`Transfer-Encoding: chunked`: read to their end, and cut off at
//! the 10 MiB cap while reading).

use flags_core::{StatusCounter, Variant};
use flags_server::{Fault, ServerConfig};

use super::{check_saved_files, expect_counter, job_for, start, temp_dir};

/// Redirected once, three times, or for ever; chunked, chunked after a
/// redirect, chunked and over the cap: the right flags are saved,
/// byte-identical, the loop and the oversized body are errors, and the
/// loop was followed no further than the limit.
pub(crate) fn check_redirects_and_chunked(variant: &Variant, max_req: usize) -> Result<(), String> {
    let scenario = "redirects and chunked bodies";
    let mut config = ServerConfig::default();
    let scripts = [
        ("br", vec![Fault::Redirect]),
        ("cn", vec![Fault::Redirect; 3]),
        ("jp", vec![Fault::Redirect; 100]),
        ("de", vec![Fault::Chunked]),
        ("ng", vec![Fault::Redirect, Fault::Chunked]),
        ("in", vec![Fault::HugeChunked]),
    ];
    for (code, faults) in scripts {
        config.scripted.insert(code.to_string(), faults);
    }
    let server = start(config)?;
    let dest = temp_dir()?;
    let codes = ["BR", "CN", "DE", "IN", "JP", "NG", "US", "ZZ"];
    let job = job_for(&codes, &server, dest.path(), max_req);
    let expected = StatusCounter {
        ok: 5,
        not_found: 1,
        error: 2,
    };
    expect_counter(scenario, variant.download_many(&job), expected)?;
    check_saved_files(scenario, dest.path(), &["BR", "CN", "DE", "NG", "US"])?;
    let asked_jp = server
        .request_log()
        .iter()
        .filter(|record| record.path.ends_with("/jp.gif"))
        .count();
    // The first request and the 10 redirects the contract follows, no
    // more: then the 11th redirect is the error.
    if asked_jp != 11 {
        return Err(format!(
            "{scenario}: the redirect loop was asked {asked_jp} times, expected 11"
        ));
    }
    Ok(())
}

/// A 200 that is not a flag: an HTML page, and a body in a
/// `Content-Encoding` nobody asked for. Both are errors and nothing is
/// saved for them; the flags around them are saved intact.
pub(crate) fn check_wrong_bodies(variant: &Variant, max_req: usize) -> Result<(), String> {
    let scenario = "wrong bodies";
    let mut config = ServerConfig::default();
    config.scripted.insert("eg".to_string(), vec![Fault::Html]);
    config.scripted.insert("fr".to_string(), vec![Fault::Gzip]);
    let server = start(config)?;
    let dest = temp_dir()?;
    let codes = ["BR", "EG", "FR", "JP"];
    let job = job_for(&codes, &server, dest.path(), max_req);
    let expected = StatusCounter {
        ok: 2,
        not_found: 0,
        error: 2,
    };
    expect_counter(scenario, variant.download_many(&job), expected)?;
    check_saved_files(scenario, dest.path(), &["BR", "JP"])
}

/// A server that closes every connection after its response, without a
/// `Connection: close`: a client that reuses a pooled connection finds it
/// closed, and must send that GET again, once, on a new connection. Every
/// flag is saved, no error; the server saw one request per code (a
/// request the client sent again never reached it the first time).
///
/// The race it looks for is real but not certain in each run: with the
/// retry switched off, this check failed 3 runs of 3 on the async model
/// and 1 of 2 on the std pool (debug builds).
pub(crate) fn check_closing_server(variant: &Variant, max_req: usize) -> Result<(), String> {
    let scenario = "a server that closes after each response";
    let config = ServerConfig {
        close_after_response: true,
        ..ServerConfig::default()
    };
    let server = start(config)?;
    let dest = temp_dir()?;
    let mut codes: Vec<&str> = flags_core::countries::all_cc()
        .into_iter()
        .take(60)
        .collect();
    let good = codes.clone();
    codes.extend(super::MISSING_CODES);
    let job = job_for(&codes, &server, dest.path(), max_req);
    let expected = StatusCounter {
        ok: good.len(),
        not_found: super::MISSING_CODES.len(),
        error: 0,
    };
    expect_counter(scenario, variant.download_many(&job), expected)?;
    check_saved_files(scenario, dest.path(), &good)?;
    let stats = server.stats();
    if stats.requests != codes.len() as u64 {
        return Err(format!(
            "{scenario}: {} requests for {} codes",
            stats.requests,
            codes.len()
        ));
    }
    Ok(())
}

/// A server that hangs up on a new connection without answering
/// ([`Fault::Hangup`], on the run's only request, which has no pooled
/// connection to reuse). A client that can tell the connection was new
/// (`tells_fresh`: ureq, through its connector) must not send the request
/// again: one request, one error. A client that cannot tell (reqwest)
/// takes it for a closed keep-alive connection and sends it once more on
/// a new one, which the server answers: two requests, the flag
/// saved. Either way, never more than one such resend.
pub fn check_fresh_hangup(variant: &Variant, tells_fresh: bool) -> Result<(), String> {
    let scenario = "a hang-up on a new connection";
    let mut config = ServerConfig::default();
    config
        .scripted
        .insert("br".to_string(), vec![Fault::Hangup]);
    let server = start(config)?;
    let dest = temp_dir()?;
    let job = job_for(&["BR"], &server, dest.path(), 1);
    let (expected, requests, saved): (StatusCounter, u64, &[&str]) = if tells_fresh {
        (
            StatusCounter {
                ok: 0,
                not_found: 0,
                error: 1,
            },
            1,
            &[],
        )
    } else {
        (
            StatusCounter {
                ok: 1,
                not_found: 0,
                error: 0,
            },
            2,
            &["BR"],
        )
    };
    expect_counter(scenario, variant.download_many(&job), expected)?;
    check_saved_files(scenario, dest.path(), saved)?;
    let stats = server.stats();
    if stats.requests != requests {
        return Err(format!(
            "{scenario}: the server saw {} requests, expected {requests}",
            stats.requests
        ));
    }
    Ok(())
}
