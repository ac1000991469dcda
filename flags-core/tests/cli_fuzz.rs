//! Arbitrary command lines never panic the parser: they parse, or they are
//! a usage error (exit code 2), or help (exit code 0).

use flags_core::NoOptions;
use flags_core::cli::parse_args;
use proptest::prelude::*;

/// Words that look like what a user might type, mixed with noise.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-a".to_string()),
        Just("-e".to_string()),
        Just("-v".to_string()),
        Just("-m".to_string()),
        Just("-l".to_string()),
        Just("-s".to_string()),
        Just("-d".to_string()),
        Just("--timeout".to_string()),
        Just("--retries".to_string()),
        Just("--max-req=".to_string()),
        "[A-Za-z]{1,3}",
        "-?[0-9]{1,25}",
        "[a-z]{2,6}://[^ ]{0,20}",
        any::<String>(),
    ]
}

proptest! {
    /// Whatever the words, the result is a job or a clap error whose exit
    /// code is 0 (help, version) or 2 (usage); a job has codes and a
    /// concurrency of at least 1.
    #[test]
    fn arbitrary_command_lines_never_panic(words in proptest::collection::vec(word(), 0..8)) {
        let argv = std::iter::once("flags-fuzz".to_string()).chain(words);
        match parse_args::<NoOptions, _, _>(argv, 30, 1000) {
            Ok(parsed) => {
                prop_assert!(!parsed.job.country_codes.is_empty());
                prop_assert!(parsed.job.max_req >= 1);
                prop_assert!(parsed.job.max_req <= parsed.job.country_codes.len().min(1000));
            }
            Err(error) => prop_assert!(matches!(error.exit_code(), 0 | 2), "{error}"),
        }
    }
}
