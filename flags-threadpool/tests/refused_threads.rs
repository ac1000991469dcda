//! `--executor threads` when the system refuses every thread: no panic, no
//! code lost; the calling thread downloads each code itself.
//!
//! This file holds one test only: it lowers this process's address-space
//! limit for a moment, which no other test may share.

#![cfg(target_os = "linux")]

use flags_core::{DownloadJob, StatusCounter};
use flags_server::{FlagServer, ServerConfig};
use flags_testkit::contract::check_saved_files;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// This process's address space, in bytes, as `ulimit -v` counts it.
fn address_space() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    flags_core::limits::proc_status_field(&status, "VmSize").expect("VmSize") * 1024
}

/// Under a limit that leaves less room than one download thread's stack,
/// every spawn is refused: the run still counts every code as downloaded
/// and saves every flag, on the calling thread.
#[test]
fn every_thread_refused_still_downloads_every_code() {
    let server = FlagServer::start(ServerConfig::default()).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let codes: Vec<&str> = flags_core::countries::all_cc()
        .into_iter()
        .take(12)
        .collect();
    let owned = codes.iter().map(|code| code.to_string()).collect();
    let job = DownloadJob::new(owned, server.base_url(), dest.path()).with_max_req(12);
    let client = flags_threadpool::HttpClient::new(&job).unwrap();

    let before = getrlimit(Resource::As);
    let room = (flags_threadpool::WORKER_STACK_SIZE / 2) as u64;
    let limit = Rlimit {
        current: Some(address_space() + room),
        maximum: before.maximum,
    };
    setrlimit(Resource::As, limit).expect("lower the address-space limit");
    flags_core::limits::share_one_heap_under_a_memory_limit();
    let counter = flags_threadpool::thread_per_code(&job, &client);
    setrlimit(Resource::As, before).expect("restore the address-space limit");

    let expected = StatusCounter {
        ok: codes.len(),
        not_found: 0,
        error: 0,
    };
    assert_eq!(counter.map_err(|error| error.to_string()), Ok(expected));
    assert_eq!(check_saved_files("refused", dest.path(), &codes), Ok(()));
}
