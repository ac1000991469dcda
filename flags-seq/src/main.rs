//! `flags-seq`: download flags one after another. See the library.

fn main() -> std::process::ExitCode {
    flags_core::run(
        flags_seq::download_many,
        flags_seq::DEFAULT_MAX_REQ,
        flags_seq::MAX_MAX_REQ,
        flags_core::limits::WorkerCost::task(),
    )
}
