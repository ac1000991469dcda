//! `flags-threadpool`: download flags with a pool of threads,
//! `--executor std` (default) or `--executor rayon`, on `--client ureq`
//! (default) or `--client reqwest`. See the library.

fn main() -> std::process::ExitCode {
    flags_core::run_with::<flags_threadpool::ThreadpoolArgs, _>(
        flags_threadpool::download_many_with,
        flags_threadpool::DEFAULT_MAX_REQ,
        flags_threadpool::MAX_MAX_REQ,
        flags_threadpool::WORKER_COST,
    )
}
