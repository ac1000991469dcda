//! `--metadata`: the chained request, and country names treated as hostile.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use flags_async::{AsyncArgs, download_many_with};
use flags_core::save::{TEMP_PREFIX, country_file_name};
use flags_core::{DownloadJob, StatusCounter};
use flags_server::{Delay, FlagServer, ServerConfig, builtin_flag};

const WITH_METADATA: AsyncArgs = AsyncArgs { metadata: true };

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

    let counter = download_many_with(&job, &WITH_METADATA).expect("the run starts");

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
    assert_eq!(
        files_in(&dest),
        expected,
        "--dest holds exactly the good flags, intact"
    );
    assert!(!expected.keys().any(|name| name.starts_with(TEMP_PREFIX)));
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

    let counter = download_many_with(&job, &WITH_METADATA).expect("the run starts");

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

    let counter = download_many_with(&job, &WITH_METADATA).expect("the run starts");

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
