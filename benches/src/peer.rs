//! The `--peer-curl` row: what a user would reach for instead of writing
//! any of this, `curl --parallel`, on the same URLs with the same cap.
//!
//! curl reads its URLs from a config file, one `url` and one `output` line
//! per flag, and runs them with `--parallel --parallel-immediate
//! --parallel-max m`: at most `m` transfers at once, each on a connection
//! of its own opened at once (`--parallel-immediate`) rather than waiting
//! to see whether one can be shared. `--fail` keeps the body of an error
//! status out of the output file, so a 404 saves nothing, as in the models.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

use flags_core::save::flag_file_name;
use flags_core::url::flag_url;

use crate::child::{ChildRun, run_child};

/// The most transfers curl runs at once, whatever `--parallel-max` asks.
pub(crate) const CURL_PARALLEL_MAX: usize = 300;

/// The first line of `curl --version` when curl is on the `PATH` and runs,
/// e.g. `curl 7.88.1 (x86_64-pc-linux-gnu) ...`; `None` otherwise.
pub(crate) fn curl_version() -> Option<String> {
    let output = Command::new("curl")
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .map(str::to_string)
}

/// A string as a double-quoted value of a curl config file.
pub(crate) fn quote(value: &str) -> String {
    let mut quoted = String::from("\"");
    for character in value.chars() {
        if matches!(character, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(character);
    }
    quoted.push('"');
    quoted
}

/// The curl config file that downloads `country_codes` from `base_url`
/// into `dest_dir`: a `url` and an `output` line per flag, saved as
/// `{CC}.gif` like the models do.
pub(crate) fn curl_config(country_codes: &[String], base_url: &str, dest_dir: &Path) -> String {
    let mut config = String::new();
    for country_code in country_codes {
        let output = dest_dir.join(flag_file_name(country_code));
        config.push_str(&format!(
            "url = {}\noutput = {}\n",
            quote(&flag_url(base_url, country_code)),
            quote(&output.to_string_lossy())
        ));
    }
    config
}

/// Run `curl --parallel` on `country_codes`, at most `max_req` at a time,
/// as a measured child process. The config file and curl's output go to
/// `scratch_dir`.
pub(crate) fn run_curl(
    country_codes: &[String],
    base_url: &str,
    dest_dir: &Path,
    max_req: usize,
    scratch_dir: &Path,
) -> io::Result<ChildRun> {
    let config_path = scratch_dir.join("curl.config");
    std::fs::write(&config_path, curl_config(country_codes, base_url, dest_dir))?;
    let args: Vec<OsString> = vec![
        "--parallel".into(),
        "--parallel-immediate".into(),
        "--parallel-max".into(),
        max_req.to_string().into(),
        "--fail".into(),
        "--silent".into(),
        "--show-error".into(),
        "--config".into(),
        config_path.into_os_string(),
    ];
    run_child(Path::new("curl"), &args, scratch_dir)
}

#[cfg(test)]
mod tests {
    #[test]
    fn quote_examples() {
        assert_eq!(crate::peer::quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }
}
