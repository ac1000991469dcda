//! `flags-async`: download flags as tokio tasks, at most `-m` requests at
//! a time. See the library.

fn main() -> std::process::ExitCode {
    flags_core::run(&flags_async::ASYNC)
}
