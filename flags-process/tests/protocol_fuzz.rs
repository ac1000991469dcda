//! Fuzzing the protocol parsers with proptest: no line a worker (or a
//! parent) can send panics the reader, and every message survives a round
//! trip through its line.

use std::path::PathBuf;
use std::time::Duration;

use flags_core::{FlagOutcome, FlagResult};
use flags_process::WorkerProtocol;
use flags_process::protocol::{
    DownloadProtocol, JobSettings, Reply, Request, decode_field, encode_field, parse_hello,
    parse_reply, parse_request,
};
use proptest::prelude::*;

/// Throw `line` at every parser. Whatever `parse_reply` accepts must
/// re-encode to a line it accepts again, unchanged from then on.
fn check_line(line: &str) -> Result<(), TestCaseError> {
    let _ = parse_request(line);
    let _ = parse_hello(line);
    let protocol =
        DownloadProtocol::new(&flags_core::DownloadJob::new(Vec::new(), "http://x", "."));
    let _ = protocol.parse_outcome(&"BR".to_string(), line);
    if let Ok(reply) = parse_reply(line) {
        let normal = reply.to_line();
        let again = parse_reply(&normal);
        prop_assert!(again.is_ok(), "{normal:?} does not parse: {again:?}");
        let again_line = again.map(|reply| reply.to_line()).unwrap_or_default();
        prop_assert_eq!(again_line, normal);
    }
    Ok(())
}

/// A country code: usually two letters, sometimes anything short.
fn country_code() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Z]{2}",
        1 => any::<String>().prop_map(|text| text.chars().take(8).collect()),
    ]
}

/// Any outcome a worker can report, with messages free of control
/// characters (those become spaces on the way, by design).
fn outcome() -> impl Strategy<Value = FlagOutcome> {
    prop_oneof![
        (country_code(), any::<u64>()).prop_map(|(code, bytes)| FlagOutcome::ok(code, bytes)),
        country_code().prop_map(FlagOutcome::not_found),
        (country_code(), "[^\\p{Cc}]{0,80}")
            .prop_map(|(code, message)| FlagOutcome::error(code, message)),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        3 => outcome().prop_map(Reply::Done),
        1 => ("[a-z][a-z0-9._-]{0,20}", any::<u32>())
            .prop_map(|(name, version)| Reply::Hello { name, version }),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let settings = (
        any::<String>(),
        any::<u64>(),
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
    )
        .prop_map(|(base_url, nanos, retries, dest, ca_cert)| JobSettings {
            base_url,
            timeout: Duration::from_nanos(nanos),
            retries,
            dest_dir: path_of_bytes(dest),
            ca_cert: ca_cert.map(path_of_bytes),
        });
    prop_oneof![
        settings.prop_map(Request::Job),
        country_code().prop_map(Request::Get),
    ]
}

#[cfg(unix)]
fn path_of_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn path_of_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

/// One small edit of a valid line: what a buggy or half-dead worker sends.
fn mutate(line: &str, kind: u8, position: usize, character: char) -> String {
    let mut characters: Vec<char> = line.chars().collect();
    let at = position % (characters.len() + 1);
    match kind % 6 {
        0 => characters.insert(at, character),
        1 if at < characters.len() => {
            characters.remove(at);
        }
        2 if at < characters.len() => characters[at] = character,
        3 => characters.truncate(at),
        4 => characters.insert(at, ' '),
        _ => characters.extend(std::iter::repeat_n('9', 30)),
    }
    characters.into_iter().collect()
}

fn edit_character() -> impl Strategy<Value = char> {
    prop_oneof![
        Just(' '),
        Just('%'),
        Just('\n'),
        Just('\r'),
        Just('0'),
        Just('-'),
        Just('+'),
        any::<char>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// No string at all panics a parser.
    #[test]
    fn arbitrary_strings_never_panic(line in any::<String>()) {
        check_line(&line)?;
    }

    /// No bytes at all panic a parser, read as the pool reads them
    /// (invalid UTF-8 replaced).
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_line(&String::from_utf8_lossy(&bytes))?;
    }

    /// Nearly valid lines (one edit away from a real reply) never panic a
    /// parser, and are either refused or read consistently.
    #[test]
    fn near_valid_lines_never_panic(
        reply in reply(),
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), edit_character()), 1..4),
    ) {
        let mut line = reply.to_line();
        for (kind, position, character) in edits {
            line = mutate(&line, kind, position, character);
        }
        check_line(&line)?;
    }

    /// Every reply reads back as itself.
    #[test]
    fn replies_round_trip(reply in reply()) {
        prop_assert_eq!(parse_reply(&reply.to_line()), Ok(reply));
    }

    /// Every request reads back as itself, whatever bytes the folder and
    /// URL hold: nothing can break the line.
    #[test]
    fn requests_round_trip(request in request()) {
        let line = request.to_line();
        prop_assert!(!line.contains('\n'));
        prop_assert_eq!(parse_request(&line), Ok(request));
    }

    /// Percent-encoding is reversible and never yields a space or a newline.
    #[test]
    fn fields_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let field = encode_field(&bytes);
        prop_assert!(!field.contains([' ', '\n', '\r']));
        prop_assert_eq!(decode_field(&field), Ok(bytes));
    }
}

/// Messages with newlines or over the length cap are cleaned, not allowed
/// to break the line.
#[test]
fn error_messages_stay_on_one_line() {
    let long = "x".repeat(10_000);
    let line = Reply::Done(FlagOutcome::error("BR", format!("a\nb\r\tc {long}"))).to_line();
    assert!(!line.contains('\n'));
    match parse_reply(&line) {
        Ok(Reply::Done(FlagOutcome {
            result: FlagResult::Error { message },
            ..
        })) => {
            assert!(message.starts_with("a b  c xxx"), "{message}");
            assert_eq!(message.len(), flags_process::protocol::MAX_MESSAGE_BYTES);
        }
        other => panic!("{other:?}"),
    }
}
