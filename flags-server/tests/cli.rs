//! The `flags-server` binary, run as a user would.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use flags_testkit::process::KillOnDrop;

const BINARY: &str = env!("CARGO_BIN_EXE_flags-server");

/// Bad options are usage errors: clap's message naming the bad option or
/// value, nothing on stdout, exit status 2.
#[test]
fn bad_options_exit_with_2() {
    for (arguments, named) in [
        (&["--bogus"][..], "'--bogus'"),
        (&["--delay", "0.1"], "--port <PORT>"),
        (&["--port", "1", "--delay", "fast"], "'fast'"),
        (&["--port", "1", "--error-rate", "2"], "'2'"),
        (&["--port", "1", "--status-rate", "503"], "'503'"),
        (&["--port", "http"], "'http'"),
        (&["--drip-rate", "0.5"], "--port <PORT>"),
        (&["--port", "1", "--drip-rate", "x"], "'x'"),
        (&["--cert-out", "ca.pem"], "--tls"),
        (&["--fault", "reset"], "--port <PORT>"),
        (&["--port", "1", "--fault", "nope"], "'nope'"),
        (&["--port", "1", "--fault", "reset:2"], "'reset:2'"),
        (&["--header-timeout", "soon"], "'soon'"),
    ] {
        let output = Command::new(BINARY).args(arguments).output().expect("runs");
        assert_eq!(output.status.code(), Some(2), "{arguments:?}");
        assert!(output.stdout.is_empty(), "{arguments:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with("error: ") && stderr.contains(named),
            "{arguments:?}: {stderr}"
        );
        assert!(
            stderr.ends_with("For more information, try '--help'.\n"),
            "{arguments:?}: {stderr}"
        );
    }
}

/// A port in use is one clear line and exit status 1.
#[test]
fn port_in_use_exits_with_1() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let output = Command::new(BINARY)
        .args(["--port", &port])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // Between the two ends is the system's own wording of EADDRINUSE.
    assert!(
        stderr.starts_with(&format!(
            "flags-server: cannot listen on 127.0.0.1:{port}: "
        )) && stderr.ends_with(" (is another flags-server running? try another --port)\n"),
        "{stderr}"
    );
}

/// One server on a chosen port serves flags, then exits 0 on SIGTERM.
#[cfg(unix)]
#[test]
fn single_server_serves_then_stops_on_sigterm() {
    use std::io::{Read, Write};

    // A free port: bind, note it, release it for the server.
    let port = flags_testkit::net::closed_port();
    let mut child = KillOnDrop(
        Command::new(BINARY)
            .args([
                "--port",
                &port.to_string(),
                "--delay",
                "0.05",
                "--seed",
                "7",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts"),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().expect("stderr"));
    let mut banner = String::new();
    stderr.read_line(&mut banner).expect("banner");
    assert_eq!(
        banner.trim_end(),
        format!("SERVER serving 194 flags at http://127.0.0.1:{port}/flags")
    );

    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(b"GET /flags/br/metadata.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(
        answer.ends_with(r#""country": "Brazil", "gec_cc": "BR"}"#),
        "{answer}"
    );

    // Our own child process, running.
    let pid = rustix::process::Pid::from_child(&child.0);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM sent");
    let status = child.0.wait().expect("exits");
    assert_eq!(status.code(), Some(0));
    let mut rest = String::new();
    stderr
        .read_to_string(&mut rest)
        .expect("the rest of stderr");
    assert_eq!(rest, "flags-server: shutting down\n");
}

/// `--fault` and `--header-timeout` reach the server the binary starts: a
/// flag request is reset after its head, and a connection that sends
/// nothing is closed at the timeout.
#[test]
fn fault_and_header_timeout_options_reach_the_server() {
    let mut child = KillOnDrop(
        Command::new(BINARY)
            .args(["--port", "0", "--fault", "reset", "--header-timeout", "0.2"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts"),
    );
    let mut banner = String::new();
    BufReader::new(child.0.stderr.take().expect("stderr"))
        .read_line(&mut banner)
        .expect("banner");
    let addr: std::net::SocketAddr = banner
        .trim_end()
        .strip_prefix("SERVER serving 194 flags at http://")
        .and_then(|rest| rest.strip_suffix("/flags"))
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("a banner: {banner:?}"));
    let reset = common::raw_get(addr, "/flags/br/br.gif").expect("the head");
    assert_eq!((reset.status, reset.ended_with_error), (200, true));
    assert!(reset.body.is_empty());
    let silent = std::net::TcpStream::connect(addr).expect("connect");
    common::assert_closed_without_answer(silent);
}

/// Starts `flags-server --port 0 --tls` plus `arguments` in `folder`, and
/// returns it with the stdout line about the certificate and the base URL
/// of its banner (port 0: the system picks a free port, which the banner
/// tells).
fn start_tls_server(folder: &std::path::Path, arguments: &[&str]) -> (KillOnDrop, String, String) {
    let mut child = KillOnDrop(
        Command::new(BINARY)
            .args(["--port", "0", "--tls"])
            .args(arguments)
            .current_dir(folder)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts"),
    );
    let mut certificate_line = String::new();
    BufReader::new(child.0.stdout.take().expect("stdout"))
        .read_line(&mut certificate_line)
        .expect("the certificate line");
    let mut banner = String::new();
    BufReader::new(child.0.stderr.take().expect("stderr"))
        .read_line(&mut banner)
        .expect("banner");
    let base_url = banner
        .trim_end()
        .strip_prefix("SERVER serving 194 flags at ")
        .unwrap_or_else(|| panic!("a banner: {banner:?}"))
        .to_owned();
    (child, certificate_line, base_url)
}

/// `--tls --cert-out FILE` writes the certificate (whole, nothing else left
/// in the folder), says where on stdout, and serves HTTPS to a client that
/// trusts that file.
#[test]
fn tls_writes_the_certificate_and_serves_https() {
    let folder = tempfile::tempdir().expect("temp dir");
    let cert_out = folder.path().join("ca.pem");
    let cert_out_text = cert_out.to_str().expect("a UTF-8 temp path");
    let (_server, certificate_line, base_url) =
        start_tls_server(folder.path(), &["--cert-out", cert_out_text]);
    assert_eq!(
        certificate_line,
        format!(
            "CA certificate for https clients: {cert_out_text} (use --cacert {cert_out_text})\n"
        )
    );
    assert!(base_url.starts_with("https://127.0.0.1:"), "{base_url}");
    let pem = std::fs::read_to_string(&cert_out).expect("the certificate file");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
    assert_eq!(
        flags_testkit::report::file_names(folder.path()).expect("list"),
        ["ca.pem"]
    );

    let flag = common::client_trusting(&pem)
        .get(format!("{base_url}/br/br.gif"))
        .send()
        .and_then(|response| response.error_for_status())
        .and_then(|response| response.bytes())
        .expect("the flag over https");
    assert_eq!(
        flag.as_ref(),
        flags_server::builtin_flag("br").expect("built in")
    );
}

/// Without `--cert-out`, the certificate goes to `flags-server-ca.pem` in
/// the current folder.
#[test]
fn tls_certificate_defaults_to_the_current_folder() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (_server, certificate_line, _base_url) = start_tls_server(folder.path(), &[]);
    assert_eq!(
        certificate_line,
        "CA certificate for https clients: flags-server-ca.pem \
         (use --cacert flags-server-ca.pem)\n"
    );
    let pem = std::fs::read_to_string(folder.path().join("flags-server-ca.pem"))
        .expect("the certificate file");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
}

/// A certificate file that cannot be written is one clear line and exit
/// status 1, before any server starts.
#[test]
fn unwritable_certificate_exits_with_1() {
    let output = Command::new(BINARY)
        .args(["--port", "0", "--tls", "--cert-out", "/nonexistent/x.pem"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // After the colon, the system's own wording of ENOENT.
    assert!(
        stderr.starts_with("flags-server: cannot write the CA certificate to /nonexistent/x.pem: "),
        "{stderr}"
    );
}
