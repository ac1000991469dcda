//! Fuzzing the protocol parsers with proptest: no line a worker (or a
//! parent) can send panics the reader, no answer names a file that is not
//! a temporary file, and every message survives a round trip through its
//! line.

use std::path::PathBuf;
use std::time::Duration;

use flags_core::FlagOutcome;
use flags_core::save::is_temporary_file_name;
use flags_process::WorkerProtocol;
use flags_process::pool::line::parse_hello;
use flags_process::protocol::{
    Answer, DownloadProtocol, JobSettings, Reply, Request, decode_field, encode_field,
    parse_answer, parse_reply, parse_request,
};
use proptest::prelude::*;

/// The pid the fuzzed answers come from.
const WORKER_PID: u32 = 8307;

/// Throw `line` at every parser. Whatever `parse_reply` accepts must
/// re-encode to a line it accepts again, unchanged from then on, and an OK
/// it accepts names a temporary file, one plain file name.
fn check_line(line: &str) -> Result<(), TestCaseError> {
    let _ = parse_request(line);
    let _ = parse_hello(line);
    let _ = parse_answer(WORKER_PID, "BR", line);
    // The parent's whole reading of an answer, commit included, in a
    // `--dest` that does not exist: whatever a rename tries, it finds
    // nothing to move.
    let protocol = DownloadProtocol::new(&flags_core::DownloadJob::new(
        Vec::new(),
        "http://x",
        "/nonexistent/flags-process-fuzz",
    ));
    if let Ok(outcome) = protocol.accept_answer(WORKER_PID, &"BR".to_string(), line) {
        prop_assert_eq!(outcome.country_code, "BR");
    }
    if let Ok(reply) = parse_reply(line) {
        if let Reply::Done {
            answer: Answer::Written { temp_name, .. },
            ..
        } = &reply
        {
            prop_assert!(is_temporary_file_name(temp_name), "{temp_name:?}");
        }
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

/// A temporary file's name as workers write them: `.flag-{pid}-{random}.tmp`,
/// usually with [`WORKER_PID`].
fn temp_name() -> impl Strategy<Value = String> {
    let pid = prop_oneof![3 => Just(WORKER_PID), 1 => any::<u32>()];
    (pid, "[A-Za-z0-9]{1,12}").prop_map(|(pid, random)| format!(".flag-{pid}-{random}.tmp"))
}

/// Any answer a worker can send, with messages free of control
/// characters (those become spaces on the way, by design).
fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        (any::<u64>(), temp_name())
            .prop_map(|(bytes, temp_name)| Answer::Written { bytes, temp_name }),
        Just(Answer::NotFound),
        "[^\\p{Cc}]{0,80}".prop_map(|message| Answer::Error { message }),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        3 => (country_code(), answer())
            .prop_map(|(country_code, answer)| Reply::Done { country_code, answer }),
        1 => ("[a-z][a-z0-9._-]{0,20}", any::<u32>())
            .prop_map(|(name, version)| Reply::Hello { name, version }),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let settings = (
        any::<String>(),
        any::<u64>(),
        any::<u32>(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
    )
        .prop_map(
            |(base_url, nanos, retries, wait_nanos, dest, ca_cert)| JobSettings {
                base_url,
                timeout: Duration::from_nanos(nanos),
                retries,
                max_retry_wait: Duration::from_nanos(wait_nanos),
                dest_dir: path_of_bytes(dest),
                ca_cert: ca_cert.map(path_of_bytes),
            },
        );
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

    /// An answer is read as the parent reads it: for the code it was asked,
    /// and with a temporary file of the worker that answers, else refused.
    #[test]
    fn answers_name_their_code_and_their_worker(code in country_code(), answer in answer()) {
        let line = Reply::Done { country_code: code.clone(), answer: answer.clone() }.to_line();
        let own = match &answer {
            Answer::Written { temp_name, .. } => {
                temp_name.starts_with(&format!(".flag-{WORKER_PID}-"))
            }
            Answer::NotFound | Answer::Error { .. } => true,
        };
        let read = parse_answer(WORKER_PID, &code, &line);
        if own {
            prop_assert_eq!(read, Ok(answer));
        } else {
            prop_assert!(read.is_err(), "{line:?}");
        }
        if code != "BR" {
            prop_assert!(parse_answer(WORKER_PID, "BR", &line).is_err(), "{line:?}");
        }
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
    let outcome = FlagOutcome::error("BR", format!("a\nb\r\tc {long}"));
    let line = Reply::unwritten(&outcome)
        .expect("an error is no written flag")
        .to_line();
    assert!(!line.contains('\n'));
    match parse_reply(&line) {
        Ok(Reply::Done {
            answer: Answer::Error { message },
            ..
        }) => {
            assert!(message.starts_with("a b  c xxx"), "{message}");
            assert_eq!(message.len(), flags_process::protocol::MAX_MESSAGE_BYTES);
        }
        other => panic!("{other:?}"),
    }
}
