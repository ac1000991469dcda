//! `flags-process`: download flags with a pool of worker processes,
//! `--start-method forkserver` (default on Linux) or `--start-method
//! spawn`. See the library.

fn main() -> std::process::ExitCode {
    // First thing: when this process is one of the pool's workers, serve
    // and exit here, before the command line is parsed.
    flags_process::worker_main_if_requested();
    flags_core::run_with_options::<flags_process::ProcessOptions, _>(
        flags_process::download_many_with_options,
        flags_process::default_max_req(),
        flags_process::MAX_MAX_REQ,
        flags_process::WORKER_COST,
    )
}
