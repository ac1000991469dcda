//! `--metadata`: the chained request, and country names treated as hostile.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use flags_async::{ASYNC, AsyncOptions, HttpClient, download_many};
use flags_core::save::{BIDI_FORMATTING, TEMP_PREFIX, country_file_name, is_default_ignorable};
use flags_core::{DownloadJob, DownloadStatus, FlagOutcome, FlagResult, Model, StatusCounter};
use flags_server::{Delay, FlagServer, ServerConfig, builtin_flag};

const WITH_METADATA: AsyncOptions = AsyncOptions { metadata: true };

/// Every file name in `dir`, with its bytes.
fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("the folder can be listed")
        .map(|entry| {
            let entry = entry.expect("an entry can be read");
            let name = entry.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            (name, bytes)
        })
        .collect()
}

/// Lay out `{dir}/{cc}/{cc}.gif` and `{dir}/{cc}/metadata.json`, as
/// `ServerConfig::dir` serves them.
fn write_country(dir: &Path, code: &str, image: &[u8], metadata: &str) {
    let folder = dir.join(code);
    std::fs::create_dir_all(&folder).expect("the code's folder can be made");
    std::fs::write(folder.join(format!("{code}.gif")), image).expect("the flag can be written");
    std::fs::write(folder.join("metadata.json"), metadata).expect("the metadata can be written");
}

/// Serve `countries` (code, flag bytes, country name) from a `--dir`, run
/// `--metadata` on all their codes into `dest` at `-m 3`, and return the
/// count with every outcome, as `-v` would print them.
fn run_with_names(
    countries: &[(&str, &[u8], &str)],
    dest: &Path,
) -> (StatusCounter, Vec<FlagOutcome>) {
    let served = tempfile::tempdir().expect("a temporary folder");
    for (code, image, country) in countries {
        write_country(served.path(), code, image, &metadata_naming(country));
    }
    let server = FlagServer::start(ServerConfig {
        dir: Some(served.path().to_path_buf()),
        ..ServerConfig::default()
    })
    .expect("the server starts");
    let mut codes: Vec<String> = countries
        .iter()
        .map(|(code, _, _)| code.to_ascii_uppercase())
        .collect();
    codes.sort();
    run_with_outcomes(&DownloadJob::new(codes, server.base_url(), dest).with_max_req(3))
}

/// Run `--metadata` on `job`, and return the count with every outcome, as
/// `-v` would print them.
fn run_with_outcomes(job: &DownloadJob) -> (StatusCounter, Vec<FlagOutcome>) {
    let client = HttpClient::new(job).expect("a client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut outcomes = Vec::new();
    let counter = runtime.block_on(download_many(job, client, &WITH_METADATA, |outcome| {
        outcomes.push(outcome)
    }));
    (counter, outcomes)
}

/// The code of the one outcome among `codes` that was saved: which of the
/// codes sharing a name won it. Tasks run concurrently, so any of them may.
fn winner_among(outcomes: &[FlagOutcome], codes: &[&str]) -> String {
    let winners: Vec<&str> = outcomes
        .iter()
        .filter(|outcome| outcome.status() == DownloadStatus::Ok)
        .map(|outcome| outcome.country_code.as_str())
        .filter(|code| codes.contains(code))
        .collect();
    let [winner] = winners.as_slice() else {
        panic!("exactly one of {codes:?} saved: {outcomes:?}");
    };
    (*winner).to_string()
}

/// Metadata with this `country`, JSON-escaped.
fn metadata_naming(country: &str) -> String {
    format!(
        r#"{{"iso_cc": "XX", "country": {}}}"#,
        serde_json::to_string(country).unwrap_or_default()
    )
}

/// Names that try to leave `--dest` (`../../x`, `a/b`), an empty name, a
/// 10 KB name and a body that is not JSON are each one error for their code
/// only: nothing is written outside `--dest`, and the good codes, sorted
/// after the bad ones, still count as downloaded (the book's
/// `flags3_asyncio.py` would count them as errors).
#[test]
fn hostile_country_names_are_errors_and_never_escape_dest() {
    let served = tempfile::tempdir().expect("a temporary folder");
    let image = b"GIF89a not really a flag";
    let hostile = [
        ("aa", metadata_naming("../../x")),
        ("ab", metadata_naming("a/b")),
        ("ac", metadata_naming("")),
        ("ad", metadata_naming(&"x".repeat(10_000))),
        ("ae", "this is not JSON".to_string()),
        ("af", metadata_naming("..")),
        ("ag", metadata_naming("tab\tname")),
    ];
    for (code, metadata) in &hostile {
        write_country(served.path(), code, image, metadata);
    }
    let good = [("br", "Brazil"), ("jp", "Japan"), ("kr", "South Korea")];
    for (code, country) in good {
        write_country(
            served.path(),
            code,
            builtin_flag(code).expect("a built-in flag"),
            &metadata_naming(country),
        );
    }
    let server = FlagServer::start(ServerConfig {
        dir: Some(served.path().to_path_buf()),
        ..ServerConfig::default()
    })
    .expect("the server starts");

    // `--dest` two levels down, so that `../../x` would land in `root`.
    let root = tempfile::tempdir().expect("a temporary folder");
    let dest = root.path().join("deep").join("dest");
    std::fs::create_dir_all(&dest).expect("--dest can be made");
    let mut codes: Vec<String> = hostile
        .iter()
        .map(|(code, _)| code.to_ascii_uppercase())
        .chain(good.iter().map(|(code, _)| code.to_ascii_uppercase()))
        .collect();
    codes.sort();
    let job = DownloadJob::new(codes, server.base_url(), &dest).with_max_req(2);

    let counter = ASYNC
        .download_many(&job, &WITH_METADATA)
        .expect("the run starts");

    assert_eq!(
        counter,
        StatusCounter {
            ok: good.len(),
            not_found: 0,
            error: hostile.len()
        }
    );
    let expected: BTreeMap<String, Vec<u8>> = good
        .iter()
        .map(|(code, country)| {
            let name = country_file_name(country).expect("a good name");
            (name, builtin_flag(code).expect("a built-in flag").to_vec())
        })
        .collect();
    let found = files_in(&dest);
    assert!(
        !found.keys().any(|name| name.starts_with(TEMP_PREFIX)),
        "a temporary file left in --dest: {:?}",
        found.keys()
    );
    assert_eq!(
        found, expected,
        "--dest holds exactly the good flags, intact"
    );
    assert_eq!(
        files_in(root.path()).into_keys().collect::<Vec<_>>(),
        ["deep"]
    );
    assert_eq!(
        files_in(&root.path().join("deep"))
            .into_keys()
            .collect::<Vec<_>>(),
        ["dest"]
    );
    // Two requests per code: the flag, then its metadata.
    assert_eq!(server.stats().requests, 2 * job.country_codes.len() as u64);
}

/// The metadata of a code that has none (404) counts as not found, and a
/// server error on it as an error; neither saves anything.
#[test]
fn missing_or_failing_metadata_saves_nothing() {
    let served = tempfile::tempdir().expect("a temporary folder");
    // `nm`: a flag but no metadata.json.
    std::fs::create_dir_all(served.path().join("nm")).expect("a folder");
    std::fs::write(served.path().join("nm").join("nm.gif"), b"GIF89a").expect("a flag");
    write_country(
        served.path(),
        "br",
        b"GIF89a brazil",
        &metadata_naming("Brazil"),
    );
    let server = FlagServer::start(ServerConfig {
        dir: Some(served.path().to_path_buf()),
        ..ServerConfig::default()
    })
    .expect("the server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let codes = vec!["BR".to_string(), "NM".to_string(), "ZZ".to_string()];
    let job = DownloadJob::new(codes, server.base_url(), dest.path()).with_max_req(3);

    let counter = ASYNC
        .download_many(&job, &WITH_METADATA)
        .expect("the run starts");

    assert_eq!(
        counter,
        StatusCounter {
            ok: 1,
            not_found: 2,
            error: 0
        }
    );
    assert_eq!(
        files_in(dest.path()).into_keys().collect::<Vec<_>>(),
        ["Brazil.gif"]
    );
}

/// With a delay, the flag and the metadata requests each take a permit of
/// their own: the server sees exactly `max_req` requests at once, and every
/// flag is saved under its built-in country name.
#[test]
fn metadata_requests_share_the_same_cap() {
    let server = FlagServer::start(ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(100)),
        ..ServerConfig::default()
    })
    .expect("the server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let codes: Vec<String> = flags_core::countries::all_cc()
        .into_iter()
        .take(12)
        .map(str::to_string)
        .collect();
    let job = DownloadJob::new(codes.clone(), server.base_url(), dest.path()).with_max_req(3);

    let counter = ASYNC
        .download_many(&job, &WITH_METADATA)
        .expect("the run starts");

    assert_eq!(
        counter,
        StatusCounter {
            ok: codes.len(),
            ..StatusCounter::default()
        }
    );
    let stats = server.stats();
    assert_eq!(stats.peak_in_flight, 3);
    assert_eq!(stats.requests, 2 * codes.len() as u64);
    let expected: BTreeMap<String, Vec<u8>> = codes
        .iter()
        .map(|code| {
            let country = flags_core::countries::country_name(code).expect("a built-in name");
            let name = country_file_name(country).expect("built-in names are safe");
            (name, builtin_flag(code).expect("a built-in flag").to_vec())
        })
        .collect();
    assert_eq!(files_in(dest.path()), expected);
}

/// BR, JP and DE all named "Brazil" (issue 12): the first code to claim the
/// name saves `Brazil.gif`, the two others are errors naming it, so the
/// report's one OK is the one file on disk, with the winner's bytes. A
/// `Brazil.gif` left by an earlier run is overwritten, not a conflict.
#[test]
fn codes_sharing_a_country_name_save_one_flag_and_name_the_winner() {
    let dest = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        dest.path().join("Brazil.gif"),
        b"GIF89a from an earlier run",
    )
    .expect("an old flag");
    let countries: [(&str, &[u8], &str); 3] = [
        ("br", b"GIF89a flag of BR", "Brazil"),
        ("jp", b"GIF89a flag of JP", "Brazil"),
        ("de", b"GIF89a flag of DE", "Brazil"),
    ];

    let (counter, outcomes) = run_with_names(&countries, dest.path());

    assert_eq!(
        counter,
        StatusCounter {
            ok: 1,
            not_found: 0,
            error: 2
        }
    );
    let winner = &winner_among(&outcomes, &["BR", "DE", "JP"]);
    let winner_image = format!("GIF89a flag of {winner}").into_bytes();
    assert_eq!(
        files_in(dest.path()),
        BTreeMap::from([("Brazil.gif".to_string(), winner_image)]),
        "one file, the winner's flag"
    );
    let mut lines: Vec<String> = outcomes
        .iter()
        .filter(|outcome| outcome.status() == DownloadStatus::Error)
        .map(ToString::to_string)
        .collect();
    lines.sort();
    let mut expected: Vec<String> = ["BR", "DE", "JP"]
        .into_iter()
        .filter(|code| code != winner)
        .map(|code| format!("{code} error: country name \"Brazil\" is already used by {winner}"))
        .collect();
    expected.sort();
    assert_eq!(lines, expected);
}

/// Names that differ only by case, or by `_` for a space, are the same file
/// on a case-insensitive file system: one flag each, and an error naming
/// the other code and its spelling.
#[test]
fn names_differing_only_by_case_collide() {
    let dest = tempfile::tempdir().expect("a temporary folder");
    let countries: [(&str, &[u8], &str); 4] = [
        ("br", b"GIF89a flag of BR", "Brazil"),
        ("jp", b"GIF89a flag of JP", "BRAZIL"),
        ("kr", b"GIF89a flag of KR", "South Korea"),
        ("kp", b"GIF89a flag of KP", "south_KOREA"),
    ];

    let (counter, outcomes) = run_with_names(&countries, dest.path());

    assert_eq!(
        counter,
        StatusCounter {
            ok: 2,
            not_found: 0,
            error: 2
        }
    );
    let files = files_in(dest.path());
    assert_eq!(files.len(), 2, "{files:?}");
    // Each pair: one file, with the bytes of the code that was counted OK,
    // and one error line naming it.
    for pair in [[0, 1], [2, 3]] {
        let [(code_a, _, name_a), (code_b, _, name_b)] = pair.map(|index| countries[index]);
        let (code_a, code_b) = (code_a.to_ascii_uppercase(), code_b.to_ascii_uppercase());
        let winner = winner_among(&outcomes, &[&code_a, &code_b]);
        let (winner_name, loser, loser_name) = if winner == code_a {
            (name_a, code_b, name_b)
        } else {
            (name_b, code_a, name_a)
        };
        let file_name = country_file_name(winner_name).expect("a good name");
        assert_eq!(
            files.get(&file_name),
            Some(&format!("GIF89a flag of {winner}").into_bytes())
        );
        let line = outcomes
            .iter()
            .find(|outcome| outcome.country_code == loser)
            .map(ToString::to_string);
        assert_eq!(
            line.as_deref(),
            Some(
                format!(
                    "{loser} error: country name {loser_name:?} is already used by {winner} \
                     (as {winner_name:?})"
                )
                .as_str()
            )
        );
    }
}

/// A name holding a bidirectional formatting character (each of them) or a
/// control character (BEL, ESC, DEL, a C1 one, a newline at the end) is an
/// error for its code, saying why, and nothing is saved.
#[test]
fn bidi_and_control_characters_are_refused_and_nothing_is_saved() {
    let dest = tempfile::tempdir().expect("a temporary folder");
    let mut names: Vec<String> = BIDI_FORMATTING
        .iter()
        .map(|bidi| format!("Brazil{bidi}fig.exe"))
        .collect();
    let controls = [
        "\u{7}Brazil",
        "\u{1b}[2JBrazil",
        "Bra\u{7f}zil",
        "Bra\u{85}zil",
        "Brazil\n",
    ];
    names.extend(controls.iter().map(|name| name.to_string()));
    let codes: Vec<String> = (b'a'..=b'z')
        .take(names.len())
        .map(|letter| format!("q{}", char::from(letter)))
        .collect();
    let countries: Vec<(&str, &[u8], &str)> = codes
        .iter()
        .zip(&names)
        .map(|(code, name)| (code.as_str(), b"GIF89a a flag".as_slice(), name.as_str()))
        .collect();

    let (counter, outcomes) = run_with_names(&countries, dest.path());

    assert_eq!(
        counter,
        StatusCounter {
            ok: 0,
            not_found: 0,
            error: names.len()
        }
    );
    for outcome in &outcomes {
        let FlagResult::Error { message } = &outcome.result else {
            panic!("an error: {outcome}");
        };
        let message = message.as_str();
        let index = codes
            .iter()
            .position(|code| code.to_ascii_uppercase() == outcome.country_code)
            .expect("one of our codes");
        let reason = if index < BIDI_FORMATTING.len() {
            "bidirectional formatting character"
        } else {
            "control character"
        };
        assert_eq!(
            message,
            format!("unsafe country name {:?}: {reason}", names[index])
        );
        assert!(
            !message
                .chars()
                .any(|character| character.is_control() || is_default_ignorable(character)),
            "the message is safe to print"
        );
    }
    assert_eq!(files_in(dest.path()), BTreeMap::new(), "nothing saved");
}

/// The same collision from the built-in server's own fault option
/// (`flags-server --country-name jp=Brazil`), as a user reproduces it: BR
/// and JP both "Brazil", CN its own name: 2 OK, 1 error, 2 files.
/// Whichever of BR and JP claims the name first (the tasks run at once),
/// `Brazil.gif` holds its flag and the other is the error naming it.
#[test]
fn a_server_that_names_two_codes_alike_saves_one_of_them() {
    let mut config = ServerConfig::default();
    config
        .country_names
        .insert("jp".to_string(), "Brazil".to_string());
    let server = FlagServer::start(config).expect("the server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let codes = vec!["BR".to_string(), "CN".to_string(), "JP".to_string()];
    let job = DownloadJob::new(codes, server.base_url(), dest.path()).with_max_req(3);

    let (counter, outcomes) = run_with_outcomes(&job);

    assert_eq!(
        counter,
        StatusCounter {
            ok: 2,
            not_found: 0,
            error: 1,
        }
    );
    let winner = winner_among(&outcomes, &["BR", "JP"]);
    let loser = if winner == "BR" { "JP" } else { "BR" };
    let files = files_in(dest.path());
    let names: Vec<&String> = files.keys().collect();
    assert_eq!(names, ["Brazil.gif", "China.gif"]);
    assert_eq!(
        files["Brazil.gif"],
        builtin_flag(&winner).expect("a built-in flag"),
        "Brazil.gif is the flag of {winner}, the code counted OK"
    );
    let line = outcomes
        .iter()
        .find(|outcome| outcome.country_code == loser)
        .map(ToString::to_string);
    assert_eq!(
        line.as_deref(),
        Some(
            format!("{loser} error: country name \"Brazil\" is already used by {winner}").as_str()
        )
    );
}

/// Run `--metadata` at `-m 3` on `codes` against the built-in server with
/// `names` (code, country name) in place of the built-in names, into
/// `dest`: the count and every outcome.
fn run_with_server_names(
    codes: &[&str],
    names: &[(&str, &str)],
    dest: &Path,
) -> (StatusCounter, Vec<FlagOutcome>) {
    let mut config = ServerConfig::default();
    for (code, name) in names {
        config
            .country_names
            .insert(code.to_string(), name.to_string());
    }
    let server = FlagServer::start(config).expect("the server starts");
    let codes = codes.iter().map(|code| code.to_ascii_uppercase()).collect();
    run_with_outcomes(&DownloadJob::new(codes, server.base_url(), dest).with_max_req(3))
}

/// Every kind of invisible (default-ignorable) character, not only the
/// bidi ones: zero-width space, joiner and non-joiner, soft hyphen, BOM,
/// combining grapheme joiner, a variation selector, word joiner, a Hangul
/// filler (a letter to `{:?}`), a tag, the Mongolian vowel separator. Each
/// name is one error that shows the character escaped; nothing of theirs
/// is saved, and the one plain name is.
#[test]
fn invisible_characters_are_refused_and_nothing_of_theirs_is_saved() {
    let hostile: [(&str, &str, &str); 11] = [
        ("ad", "Bra\u{200B}zil", r"Bra\u{200b}zil"),
        ("ae", "Bra\u{200D}zil", r"Bra\u{200d}zil"),
        ("af", "Bra\u{200C}zil", r"Bra\u{200c}zil"),
        ("ag", "Bra\u{AD}zil", r"Bra\u{ad}zil"),
        ("al", "\u{FEFF}Brazil", r"\u{feff}Brazil"),
        ("am", "Bra\u{34F}zil", r"Bra\u{34f}zil"),
        ("ao", "Brazil\u{FE0F}", r"Brazil\u{fe0f}"),
        ("ar", "Bra\u{2060}zil", r"Bra\u{2060}zil"),
        ("at", "Bra\u{3164}zil", r"Bra\u{3164}zil"),
        ("au", "Brazil\u{E0041}", r"Brazil\u{e0041}"),
        ("az", "Bra\u{180E}zil", r"Bra\u{180e}zil"),
    ];
    let dest = tempfile::tempdir().expect("a temporary folder");
    let mut codes: Vec<&str> = hostile.iter().map(|(code, _, _)| *code).collect();
    codes.push("br");
    let names: Vec<(&str, &str)> = hostile
        .iter()
        .map(|(code, name, _)| (*code, *name))
        .collect();

    let (counter, outcomes) = run_with_server_names(&codes, &names, dest.path());

    assert_eq!(
        counter,
        StatusCounter {
            ok: 1,
            not_found: 0,
            error: hostile.len()
        }
    );
    for (code, _, shown) in hostile {
        let outcome = outcomes
            .iter()
            .find(|outcome| outcome.country_code == code.to_ascii_uppercase())
            .expect("an outcome for every code");
        let FlagResult::Error { message } = &outcome.result else {
            panic!("an error: {outcome}");
        };
        assert_eq!(
            message,
            &format!("unsafe country name \"{shown}\": invisible (default-ignorable) character")
        );
        assert!(
            !message.chars().any(is_default_ignorable),
            "the message shows every character: {message:?}"
        );
    }
    assert_eq!(
        files_in(dest.path()).into_keys().collect::<Vec<_>>(),
        ["Brazil.gif"],
        "only the plain name is saved"
    );
}

/// One name in two spellings, composed (NFC) and decomposed (NFD, `o` and
/// a combining circumflex), is one name: the first code to claim it saves
/// `Côte_d'Ivoire.gif`, in NFC whichever spelling won, and the other is an
/// error naming it. A decomposed name alone is saved in NFC too.
#[test]
fn names_differing_only_by_normalization_collide() {
    const COMPOSED: &str = "C\u{F4}te d'Ivoire";
    const DECOMPOSED: &str = "Co\u{302}te d'Ivoire";
    let dest = tempfile::tempdir().expect("a temporary folder");
    let names = [
        ("ci", COMPOSED),
        ("jp", DECOMPOSED),
        ("st", "Sa\u{303}o Tome\u{301} and Pri\u{301}ncipe"),
    ];

    let (counter, outcomes) = run_with_server_names(&["ci", "jp", "st"], &names, dest.path());

    assert_eq!(
        counter,
        StatusCounter {
            ok: 2,
            not_found: 0,
            error: 1
        }
    );
    let winner = winner_among(&outcomes, &["CI", "JP"]);
    let (winner_name, loser, loser_name) = if winner == "CI" {
        (COMPOSED, "JP", DECOMPOSED)
    } else {
        (DECOMPOSED, "CI", COMPOSED)
    };
    let files = files_in(dest.path());
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        [
            "C\u{F4}te_d'Ivoire.gif",
            "S\u{E3}o_Tom\u{E9}_and_Pr\u{ED}ncipe.gif"
        ],
        "file names in NFC"
    );
    assert_eq!(
        files["C\u{F4}te_d'Ivoire.gif"],
        builtin_flag(&winner).expect("a built-in flag"),
        "the flag of {winner}, the code counted OK"
    );
    let line = outcomes
        .iter()
        .find(|outcome| outcome.country_code == loser)
        .map(ToString::to_string);
    assert_eq!(
        line.as_deref(),
        Some(
            format!(
                "{loser} error: country name {loser_name:?} is already used by {winner} \
                 (as {winner_name:?})"
            )
            .as_str()
        )
    );
}
