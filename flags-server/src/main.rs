//! The `flags-server` binary: the three standard flag servers, or one
//! server shaped by options. Everything is in the library: see
//! [`flags_server::run_cli`].

fn main() -> std::process::ExitCode {
    flags_server::run_cli()
}
