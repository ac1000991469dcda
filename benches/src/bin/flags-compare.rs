//! `flags-compare`: every model on the same work, side by side.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
