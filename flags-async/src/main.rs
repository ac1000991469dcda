//! Placeholder binary for the async model.

fn main() -> std::process::ExitCode {
    eprintln!("flags-async: this model is not implemented yet");
    std::process::ExitCode::FAILURE
}
