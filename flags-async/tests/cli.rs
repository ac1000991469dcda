//! The `flags-async` binary from the outside: its output, its files and its
//! exit status, as the contract shows them.

use std::path::Path;
use std::process::{Command, Output};

use flags_server::{Fault, FlagServer, ServerConfig, builtin_flag};
use flags_testkit::report::without_elapsed;

/// Run the binary with `args`, saving into `dest`, against `server`.
fn run(server: &FlagServer, dest: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flags-async"))
        .args(args)
        .args(["-s", &server.base_url(), "-d"])
        .arg(dest)
        .output()
        .expect("the binary runs")
}

/// `--metadata BR JP`: the report in the contract's shape, exit status 0,
/// and the flags saved as `Brazil.gif` and `Japan.gif`, intact.
#[test]
fn metadata_option_saves_flags_by_country_name() {
    let server = FlagServer::start(ServerConfig::default()).expect("the server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");

    let output = run(&server, dest.path(), &["--metadata", "JP", "BR"]);

    assert_eq!(output.status.code(), Some(0));
    let expected = format!(
        "URL site: {}\nSearching for 2 flags: BR, JP\n2 concurrent connections will be used.\n\
         --------------------\n  2 flags downloaded.\n",
        server.base_url()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        without_elapsed(&stdout),
        Some(expected.as_str()),
        "{stdout}"
    );
    for (code, file_name) in [("br", "Brazil.gif"), ("jp", "Japan.gif")] {
        let saved = std::fs::read(dest.path().join(file_name)).expect("the flag was saved");
        assert_eq!(saved, builtin_flag(code).expect("a built-in flag"));
    }
}

/// `-v` prints one line per code in the shared wording (`BR OK`,
/// `ZZ not found`, `AR error: HTTP 418 I'm a teapot`), all before the
/// report, and an error makes the exit status 1.
#[test]
fn verbose_lines_and_exit_status_on_error() {
    let mut config = ServerConfig::default();
    config
        .scripted
        .insert("ar".to_string(), vec![Fault::Status(418)]);
    let server = FlagServer::start(config).expect("the server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");

    let output = run(&server, dest.path(), &["-v", "BR", "AR", "ZZ"]);

    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines: Vec<&str> = stdout
        .lines()
        .filter(|line| {
            line.starts_with("AR ") || line.starts_with("BR ") || line.starts_with("ZZ ")
        })
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        ["AR error: HTTP 418 I'm a teapot", "BR OK", "ZZ not found"]
    );
    assert!(
        stdout.contains("  1 flag downloaded.\n  1 not found.\n  1 error.\n"),
        "{stdout}"
    );
    // The lines are printed by a thread of their own, which the run waits
    // for: every line comes before the report's rule, none is lost.
    let rule = stdout.find("\n----").expect("the report's rule");
    assert!(
        ["AR error", "BR OK", "ZZ not found"]
            .iter()
            .all(|line| stdout.find(line).is_some_and(|at| at < rule)),
        "{stdout}"
    );
}

/// The default `-m` is 5, and `-m` is capped by the number of codes.
#[test]
fn default_and_capped_concurrency() {
    let server = FlagServer::start(ServerConfig::default()).expect("the server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");

    let default = run(&server, dest.path(), &["-l", "12", "-a"]);
    let capped = run(&server, dest.path(), &["-m", "1000", "B"]);

    assert!(
        String::from_utf8_lossy(&default.stdout)
            .contains("\n5 concurrent connections will be used.\n")
    );
    // B = BA..BZ: 26 codes, so at most 26 requests at once.
    let capped_stdout = String::from_utf8_lossy(&capped.stdout);
    assert!(
        capped_stdout.contains("\n26 concurrent connections will be used.\n"),
        "{capped_stdout}"
    );
    assert_eq!(default.status.code(), Some(0));
    assert_eq!(capped.status.code(), Some(0));
}

/// A usage error (`-m 0`; `--client`, which this model does not have: its
/// one client is reqwest) exits with status 2 and the usage on stderr.
#[test]
fn usage_error_exits_2() {
    let server = FlagServer::start(ServerConfig::default()).expect("the server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");

    for args in [&["-m", "0"][..], &["--client", "hyper"]] {
        let output = run(&server, dest.path(), args);

        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("Usage:"), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

/// Ctrl-C mid-run (the semaphore is closed, requests in flight finish and
/// are counted) and failing writes: the checks every model binary passes.
#[test]
fn binary_keeps_the_contract() {
    let model = flags_testkit::contract::ModelBinary {
        program: std::path::Path::new(env!("CARGO_BIN_EXE_flags-async")),
        extra_args: &[],
    };
    assert_eq!(flags_testkit::contract::check_binary(&model), Ok(()));
}

/// A server named by host name rather than IP address (the client looks
/// `localhost` up once, before the run, and gives every connection that
/// answer): the flags arrive as with an IP address.
#[test]
fn server_named_by_host_name() {
    let server = FlagServer::start(ServerConfig::default()).expect("the server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let by_name = server.base_url().replace("127.0.0.1", "localhost");

    let output = Command::new(env!("CARGO_BIN_EXE_flags-async"))
        .args(["-m", "20", "-s", &by_name, "-d"])
        .arg(dest.path())
        .output()
        .expect("the binary runs");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("\n 20 flags downloaded.\n"), "{stdout}");
    assert_eq!(server.stats().by_status.get(&200), Some(&20));
}
