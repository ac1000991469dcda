//! `flags-seq`: download flags one after another. See the library.

fn main() -> std::process::ExitCode {
    flags_core::run(&flags_seq::SEQ)
}
