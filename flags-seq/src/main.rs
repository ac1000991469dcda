//! `flags-seq`: download flags one after another. See the library.

fn main() -> std::process::ExitCode {
    flags_core::run(
        flags_seq::download_many,
        flags_seq::default_max_req(),
        flags_seq::MAX_MAX_REQ,
        flags_seq::WORKER_COST,
    )
}
