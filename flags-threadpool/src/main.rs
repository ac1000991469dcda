//! `flags-threadpool`: download flags with a pool of threads,
//! `--executor std` (default) or `--executor rayon`, on `--client ureq`
//! (default) or `--client reqwest`. See the library.

fn main() -> std::process::ExitCode {
    flags_core::run(&flags_threadpool::THREADPOOL)
}
