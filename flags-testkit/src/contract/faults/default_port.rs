//! The two redirects to a scheme's default port (`redirect_default_port`,
//! `redirect_https`), end to end: they need a server on port 80 or 443,
//! which a test can have only in a network of its own.
//!
//! As root, a thread of its own enters a private network namespace (its
//! own loopback, every port free, nothing of the machine's in the way),
//! starts there the server the redirect names on 80 or 443 and the one
//! that redirects on a port of the system's choosing, and runs the model;
//! every thread and process the model starts from that thread shares the
//! namespace. The flag must come from the server the redirect names: its
//! own statistics say so. Elsewhere (not root, or a container that does
//! not allow a namespace) the check is skipped; the resolvers' handling of
//! a port the URL leaves implicit is tested by the clients' own unit tests.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use flags_core::{DownloadJob, StatusCounter, Variant};
use flags_server::{Fault, FaultMode, FlagServer, ServerConfig, TlsIdentity};

use super::{flag_path, settled};
use crate::contract::{check_saved_files, expect_counter, start, temp_dir};

/// `--timeout` of the run: a hang guard only, every answer is immediate.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `mode` (one that [`FaultMode::needs_default_port`]) end to end on
/// the model, in a private network namespace; `Ok` without running it
/// where no namespace can be had.
pub(super) fn check_default_port(
    variant: &Variant,
    max_req: usize,
    mode: &FaultMode,
) -> Result<(), String> {
    let (variant, mode) = (*variant, *mode);
    // A thread of its own: the namespace is the thread's, and it ends
    // with the thread, leaving the test's own threads where they were.
    let joined = std::thread::Builder::new()
        .name("private-network".to_owned())
        .spawn(move || match enter_private_network() {
            Ok(true) => check_in_private_network(&variant, max_req, &mode),
            Ok(false) => Ok(()),
            Err(error) => Err(format!("{}: {error}", mode.name)),
        })
        .map_err(|error| format!("{}: cannot start a thread: {error}", mode.name))?
        .join();
    // The thread's panic is the test's.
    joined.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The check itself, in the namespace: `BR` is redirected to the default
/// port, `DE` and `ZZ` are answered where they are asked.
fn check_in_private_network(
    variant: &Variant,
    max_req: usize,
    mode: &FaultMode,
) -> Result<(), String> {
    let scenario = mode.name;
    let (port, tls) = match mode.fault {
        Fault::RedirectToHttps => {
            let identity = TlsIdentity::generate()
                .map_err(|error| format!("{scenario}: no TLS identity: {error}"))?;
            (443, Some(identity))
        }
        _ => (80, None),
    };
    let named = FlagServer::start_on(
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        ServerConfig {
            tls: tls.clone(),
            ..ServerConfig::default()
        },
    )
    .map_err(|error| format!("{scenario}: {error}"))?;
    let mut config = ServerConfig::default();
    config.scripted.insert("br".to_owned(), vec![mode.fault]);
    let origin = start(config)?;
    let dest = temp_dir()?;
    // By name, as users write it: the name is looked up once, and the
    // redirect must not take the first request's port along with it.
    let base_url = format!("http://localhost:{}/flags", origin.addr().port());
    let codes = ["BR", "DE", "ZZ"].map(String::from).to_vec();
    let mut job = DownloadJob::new(codes, base_url, dest.path()).with_max_req(max_req);
    job.timeout = TIMEOUT;
    let ca_folder = temp_dir()?;
    if let Some(identity) = &tls {
        let ca_file = ca_folder.path().join("ca.pem");
        std::fs::write(&ca_file, identity.cert_pem())
            .map_err(|error| format!("{scenario}: {error}"))?;
        job.ca_cert = Some(ca_file);
    }
    let expected = StatusCounter {
        ok: 2,
        not_found: 1,
        error: 0,
    };
    expect_counter(scenario, variant.download_many(&job), expected)?;
    check_saved_files(scenario, dest.path(), &["BR", "DE"])?;
    settled(&origin, scenario)?;
    settled(&named, scenario)?;
    let asked = |server: &FlagServer, code: &str| {
        server
            .request_log()
            .iter()
            .filter(|record| record.path == flag_path(code))
            .map(|record| record.status)
            .collect::<Vec<_>>()
    };
    let seen = (
        asked(&origin, "BR"),
        asked(&named, "BR"),
        asked(&origin, "DE"),
        asked(&named, "DE"),
    );
    if seen != (vec![301], vec![200], vec![200], vec![]) {
        return Err(format!(
            "{scenario}: BR and DE asked of the first server {:?} and {:?}, of the one on \
             port {port} {:?} and {:?}: the flag must come from the server the redirect names",
            seen.0, seen.2, seen.1, seen.3
        ));
    }
    Ok(())
}

/// Moves this thread into a network namespace of its own and brings its
/// loopback up. `Ok(false)` where that is not allowed (not root, or root
/// without the capability, as in a default container).
fn enter_private_network() -> Result<bool, String> {
    // SAFETY: geteuid(2) only reads the caller's credentials.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(false);
    }
    // SAFETY: unshare(2) takes flags only; with CLONE_NEWNET alone it
    // moves this one thread into a new network namespace, which touches
    // no memory of the process.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        let error = std::io::Error::last_os_error();
        return match error.raw_os_error() {
            Some(libc::EPERM) => Ok(false),
            _ => Err(format!("cannot enter a network namespace: {error}")),
        };
    }
    loopback_up().map_err(|error| format!("cannot bring the loopback up: {error}"))?;
    Ok(true)
}

/// `ip link set lo up`, without `ip`: the interface's flags, set with
/// `SIOCSIFFLAGS` on any socket of the namespace.
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: socket(2) takes plain values and returns a descriptor or -1.
    let socket = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if socket < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `ifreq` is plain data (a name and a union of integers and
    // addresses), for which all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    request.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads an `ifreq`, which `request` is, alive for
    // the call; `socket` is the descriptor opened above.
    let set = unsafe { libc::ioctl(socket, libc::SIOCSIFFLAGS, &request) };
    let result = if set < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    };
    // SAFETY: `socket` is ours, and closed once.
    unsafe { libc::close(socket) };
    result
}
