//! Placeholder binary for the process model.

fn main() -> std::process::ExitCode {
    eprintln!("flags-process: this model is not implemented yet");
    std::process::ExitCode::FAILURE
}
