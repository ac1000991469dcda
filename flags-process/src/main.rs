//! `flags-process`: download flags with a pool of worker processes,
//! `--start-method forkserver` (default on Linux) or `--start-method
//! spawn`. See the library.

fn main() -> std::process::ExitCode {
    // `run` first lets a worker (or the fork server) serve and exit, before
    // the command line is parsed.
    flags_core::run(&flags_process::PROCESS)
}
