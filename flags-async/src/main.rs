//! `flags-async`: download flags as tokio tasks, at most `-m` requests at
//! a time. See the library.

fn main() -> std::process::ExitCode {
    flags_core::run_with_options::<flags_async::AsyncOptions, _>(
        flags_async::download_many_with_options,
        flags_async::default_max_req(),
        flags_async::MAX_MAX_REQ,
        flags_async::WORKER_COST,
    )
}
