//! The https checks: every model downloads from an in-process TLS server
//! when told to trust its certificate (`--cacert`), and refuses, one clear
//! error per code and no panic, when it trusts another one.
//!
//! A client switch is exactly where https breaks unseen (a TLS library with
//! two crypto providers, or none, panics on its first handshake), and the
//! REMOTE server is https: so the TLS path is tested here, on this machine.

use std::path::{Path, PathBuf};

use flags_core::{StatusCounter, Variant};
use flags_server::{FlagServer, ServerConfig, TlsIdentity};

use super::{
    GOOD_CODES, MISSING_CODES, ModelBinary, check_saved_files, expect_counter, job_for, temp_dir,
};

/// A TLS server of the built-in flags, and the file of its certificate.
fn tls_server(dir: &Path) -> Result<(FlagServer, PathBuf), String> {
    let identity = TlsIdentity::generate()
        .map_err(|error| format!("tls: cannot make a certificate: {error}"))?;
    let pem_path = dir.join("flags-server-ca.pem");
    std::fs::write(&pem_path, identity.cert_pem())
        .map_err(|error| format!("tls: cannot write the certificate: {error}"))?;
    let config = ServerConfig {
        tls: Some(identity),
        ..ServerConfig::default()
    };
    let server = FlagServer::start(config)
        .map_err(|error| format!("tls: cannot start the flag server: {error}"))?;
    if !server.base_url().starts_with("https://") {
        return Err(format!("tls: the server's URL is {}", server.base_url()));
    }
    Ok((server, pem_path))
}

/// A certificate that signed nothing the server sends: the wrong CA.
fn wrong_ca(dir: &Path) -> Result<PathBuf, String> {
    let other = TlsIdentity::generate()
        .map_err(|error| format!("tls: cannot make a certificate: {error}"))?;
    let path = dir.join("wrong-ca.pem");
    std::fs::write(&path, other.cert_pem())
        .map_err(|error| format!("tls: cannot write the certificate: {error}"))?;
    Ok(path)
}

/// Over https with `--cacert`: the same totals and the same bytes as over
/// plain HTTP. With the wrong CA: every code is an error, nothing saved.
pub fn check_tls(variant: &Variant, max_req: usize) -> Result<(), String> {
    let certificates = temp_dir()?;
    let (server, pem_path) = tls_server(certificates.path())?;
    let dest = temp_dir()?;
    let mut codes = GOOD_CODES.to_vec();
    codes.extend(MISSING_CODES);
    let mut job = job_for(&codes, &server, dest.path(), max_req);
    job.ca_cert = Some(pem_path);
    let expected = StatusCounter {
        ok: GOOD_CODES.len(),
        not_found: MISSING_CODES.len(),
        error: 0,
    };
    expect_counter("tls", variant.download_many(&job), expected)?;
    check_saved_files("tls", dest.path(), &GOOD_CODES)?;

    let wrong_dest = temp_dir()?;
    let mut job = job_for(&codes, &server, wrong_dest.path(), max_req);
    job.ca_cert = Some(wrong_ca(certificates.path())?);
    let expected = StatusCounter {
        error: codes.len(),
        ..StatusCounter::default()
    };
    expect_counter(
        "tls with the wrong CA",
        variant.download_many(&job),
        expected,
    )?;
    check_saved_files("tls with the wrong CA", wrong_dest.path(), &[])
}

/// The binary over https, as a user runs it: with `--cacert` the flags
/// come in and the exit status is 0; with the wrong CA, exit 1, one `-v`
/// line per code saying "certificate not trusted", no panic, no file.
pub fn check_tls_binary(model: &ModelBinary<'_>) -> Result<(), String> {
    let certificates = temp_dir()?;
    let (server, pem_path) = tls_server(certificates.path())?;
    let pem = pem_path.to_string_lossy().into_owned();
    let dest = temp_dir()?;
    let codes = ["BR", "JP", "ZZ"];
    let mut args = vec!["-v", "--cacert", pem.as_str()];
    args.extend(codes);
    let output = model
        .command(&server, dest.path(), &args)
        .output()
        .map_err(|error| format!("tls binary: cannot run the model: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in ["BR OK", "JP OK", "ZZ not found"] {
        if !stdout.lines().any(|printed| printed == line) {
            return Err(format!(
                "tls binary: no line {line:?} in\n{stdout}\nstderr:\n{stderr}"
            ));
        }
    }
    if output.status.code() != Some(0) {
        return Err(format!(
            "tls binary: exit status {}\n{stderr}",
            output.status
        ));
    }
    check_saved_files("tls binary", dest.path(), &["BR", "JP"])?;

    let wrong = wrong_ca(certificates.path())?
        .to_string_lossy()
        .into_owned();
    let wrong_dest = temp_dir()?;
    let mut args = vec!["-v", "--cacert", wrong.as_str()];
    args.extend(codes);
    let output = model
        .command(&server, wrong_dest.path(), &args)
        .output()
        .map_err(|error| format!("tls binary: cannot run the model: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("panicked") {
        return Err(format!("tls binary, wrong CA: a panic:\n{stderr}"));
    }
    for code in codes {
        let prefix = format!("{code} error: certificate not trusted");
        let lines = stdout
            .lines()
            .filter(|line| line.starts_with(&prefix))
            .count();
        if lines != 1 {
            return Err(format!(
                "tls binary, wrong CA: {lines} lines {prefix:?} in\n{stdout}\nstderr:\n{stderr}"
            ));
        }
    }
    if output.status.code() != Some(1) {
        return Err(format!(
            "tls binary, wrong CA: exit status {}, expected 1",
            output.status
        ));
    }
    check_saved_files("tls binary, wrong CA", wrong_dest.path(), &[])?;

    // `https://` to a server that speaks plain HTTP: a line that says so.
    let plain = super::start(ServerConfig::default())?;
    let plain_url = format!("https://{}/flags", plain.addr());
    let plain_dest = temp_dir()?;
    let output = std::process::Command::new(model.program)
        .args(model.extra_args)
        .args(["-s", plain_url.as_str(), "-v", "-d"])
        .arg(plain_dest.path())
        .arg("BR")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| format!("tls binary: cannot run the model: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let expected = "BR error: the server did not answer TLS (is it plain http?)";
    if !stdout.lines().any(|line| line.starts_with(expected)) || output.status.code() != Some(1) {
        return Err(format!(
            "tls binary, https to plain http: exit {}, no line {expected:?} in\n{stdout}",
            output.status
        ));
    }
    check_saved_files("tls binary, https to plain http", plain_dest.path(), &[])
}
