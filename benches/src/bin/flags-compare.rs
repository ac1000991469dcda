//! `flags-compare`: every model on the same flags, side by side (what
//! `cargo run --release` runs). See `flags_benches::compare`.

fn main() -> std::process::ExitCode {
    // The process model re-runs this executable as its workers: when this
    // process is one of them, it serves its parent and exits here.
    flags_benches::models::serve_if_worker();
    flags_benches::compare::main(std::env::args_os().collect())
}
