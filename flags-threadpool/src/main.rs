//! Placeholder binary for the threadpool model.

fn main() -> std::process::ExitCode {
    eprintln!("flags-threadpool: this model is not implemented yet");
    std::process::ExitCode::FAILURE
}
