//! `flags-threadpool`: download flags with threads, `--executor std`
//! (default), `rayon` or `threads`, on `--client ureq` (default) or
//! `--client reqwest`. See the library.

fn main() -> std::process::ExitCode {
    flags_core::run(&flags_threadpool::THREADPOOL)
}
