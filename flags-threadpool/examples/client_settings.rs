//! What each of the blocking client's settings is worth: the std pool with
//! the same command line as `flags-threadpool`, plus `--settings`, which
//! turns the tuned settings of `flags_seq::HttpClient` off one at a time.
//!
//! ```text
//! cargo build --release -p flags-threadpool --example client_settings
//! hyperfine -N 'target/release/examples/client_settings -e -m 30 -s URL --settings ureq-defaults' \
//!              'target/release/examples/client_settings -e -m 30 -s URL --settings tuned'
//! ```
//!
//! The crate README's before-and-after table was measured this way.

use flags_core::{DownloadJob, SetupError, StatusCounter};
use flags_seq::{ClientSettings, HttpClient};
use flags_threadpool::{
    MAX_MAX_REQ, ReqwestClient, WORKER_COST, default_max_req, download_many_on,
};

/// The example's own option.
#[derive(Debug, Clone, clap::Args)]
struct SettingsOptions {
    /// which client settings the pool threads use
    #[arg(long, value_enum, default_value_t = Settings::Tuned)]
    settings: Settings,
}

/// The rows of the README's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Settings {
    /// ureq as it comes.
    UreqDefaults,
    /// Only the addresses looked up once.
    Resolver,
    /// The addresses and the small buffers.
    Buffers,
    /// The addresses, the buffers and a pool of `-m` idle connections.
    Pool,
    /// All four: what the models use (404 bodies read to their end too).
    Tuned,
    /// All but the pool size: ureq's 3 idle connections per host.
    TunedSmallPool,
    /// reqwest's blocking client, for comparison.
    Reqwest,
}

fn download_many_with_options(
    job: &DownloadJob,
    options: &SettingsOptions,
) -> Result<StatusCounter, SetupError> {
    let off = ClientSettings::UREQ_DEFAULTS;
    let settings = match options.settings {
        Settings::Reqwest => return download_many_on(job, ReqwestClient::new(job)?),
        Settings::UreqDefaults => off,
        Settings::Resolver => ClientSettings {
            known_addresses: true,
            ..off
        },
        Settings::Buffers => ClientSettings {
            known_addresses: true,
            small_buffers: true,
            ..off
        },
        Settings::Pool => ClientSettings {
            drain_error_bodies: false,
            ..ClientSettings::TUNED
        },
        Settings::Tuned => ClientSettings::TUNED,
        Settings::TunedSmallPool => ClientSettings {
            pool_per_thread: false,
            ..ClientSettings::TUNED
        },
    };
    download_many_on(job, HttpClient::with_settings(job, settings)?)
}

fn main() -> std::process::ExitCode {
    flags_core::run_with_options::<SettingsOptions, _>(
        download_many_with_options,
        default_max_req(),
        MAX_MAX_REQ,
        WORKER_COST,
    )
}
