//! `flags-threadpool`: download flags with a pool of threads,
//! `--executor std` (default) or `--executor rayon`, on `--client ureq`
//! (default) or `--client reqwest`. See the library.

fn main() -> std::process::ExitCode {
    flags_core::run_with_options::<flags_threadpool::ThreadpoolOptions, _>(
        flags_threadpool::download_many_with_options,
        flags_threadpool::default_max_req(),
        flags_threadpool::MAX_MAX_REQ,
        flags_threadpool::WORKER_COST,
    )
}
