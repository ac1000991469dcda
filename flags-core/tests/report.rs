//! The reports, byte for byte as the contract shows them.

use std::time::Duration;

use flags_core::StatusCounter;
use flags_core::report::{final_report, initial_report};

fn codes(text: &str) -> Vec<String> {
    text.split(' ').map(String::from).collect()
}

/// The contract's example, whole.
#[test]
fn contract_example() {
    let all = flags_core::countries::all_cc()
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    let text = initial_report("DELAY", "http://localhost:8001/flags", &all, 30)
        + &final_report(
            &StatusCounter {
                ok: 190,
                not_found: 3,
                error: 1,
            },
            Duration::from_millis(720),
        );
    assert_eq!(
        text,
        "DELAY site: http://localhost:8001/flags\n\
         Searching for 194 flags: from AD to ZW\n\
         30 concurrent connections will be used.\n\
         --------------------\n\
         190 flags downloaded.\n  3 not found.\n  1 error.\n\
         Elapsed time: 0.72s\n"
    );
}

/// Ten codes or fewer are listed; eleven are given as a range.
#[test]
fn ten_codes_listed_eleven_ranged() {
    let ten = codes("AA AB AC AD AE AF AG AH AI AJ");
    assert_eq!(
        initial_report("LOCAL", "u", &ten, 10),
        "LOCAL site: u\n\
         Searching for 10 flags: AA, AB, AC, AD, AE, AF, AG, AH, AI, AJ\n\
         10 concurrent connections will be used.\n"
    );
    let eleven = codes("AA AB AC AD AE AF AG AH AI AJ AK");
    assert_eq!(
        initial_report("LOCAL", "u", &eleven, 10),
        "LOCAL site: u\n\
         Searching for 11 flags: from AA to AK\n\
         10 concurrent connections will be used.\n"
    );
}

/// One flag, one connection: singular words.
#[test]
fn singulars() {
    assert_eq!(
        initial_report("LOCAL", "http://localhost:8000/flags", &codes("BR"), 1),
        "LOCAL site: http://localhost:8000/flags\nSearching for 1 flag: BR\n1 connection will be used.\n"
    );
    assert_eq!(
        final_report(
            &StatusCounter {
                ok: 1,
                not_found: 0,
                error: 0
            },
            Duration::from_millis(5)
        ),
        "--------------------\n  1 flag downloaded.\nElapsed time: 0.01s\n"
    );
}

/// Zero counts are left out, except the first; plurals and 3 columns.
#[test]
fn zero_lines_left_out() {
    assert_eq!(
        final_report(
            &StatusCounter {
                ok: 0,
                not_found: 676,
                error: 12
            },
            Duration::from_secs(12)
        ),
        "--------------------\n  0 flags downloaded.\n676 not found.\n 12 errors.\nElapsed time: 12.00s\n"
    );
}

/// A password in `-s` never reaches the screen: the site line shows `***`,
/// and so does the unreachable-server line.
#[test]
fn passwords_are_printed_as_stars() {
    let text = initial_report(
        "URL",
        "http://ann:s3cret@127.0.0.1:8000/flags",
        &codes("BR"),
        1,
    );
    assert_eq!(
        text.lines().next(),
        Some("URL site: http://ann:***@127.0.0.1:8000/flags")
    );
    let unreachable = flags_core::check_reachable(
        "http://ann:s3cret@127.0.0.1:9/flags",
        Duration::from_secs(1),
    )
    .expect_err("nothing listens on port 9");
    let message = unreachable.to_string();
    assert!(
        message.contains("http://ann:***@127.0.0.1:9/flags"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}
