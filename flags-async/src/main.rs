//! `flags-async`: download flags as tokio tasks, at most `-m` requests at
//! a time. See the library.

fn main() -> std::process::ExitCode {
    flags_core::run_with::<flags_async::AsyncArgs, _>(
        flags_async::download_many_with,
        flags_async::DEFAULT_MAX_REQ,
        flags_async::MAX_MAX_REQ,
        flags_core::limits::WorkerCost::task(),
    )
}
