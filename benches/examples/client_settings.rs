//! What each of the blocking client's settings is worth: the std pool with
//! the same command line as `flags-threadpool`, plus `--settings`, which
//! turns the tuned settings of `flags_seq::HttpClient` off one at a time.
//!
//! ```text
//! cargo build --release -p flags-benches --example client_settings
//! hyperfine -N 'target/release/examples/client_settings -e -m 30 -s URL --settings ureq-defaults' \
//!              'target/release/examples/client_settings -e -m 30 -s URL --settings tuned'
//! ```
//!
//! The before-and-after table of the findings was measured this way.

use flags_core::limits::WorkerCost;
use flags_core::{DownloadJob, SetupError, StatusCounter};
use flags_seq::{ClientSettings, HttpClient};
use flags_threadpool::{MAX_MAX_REQ, ReqwestClient, WORKER_COST, default_max_req, std_pool};

/// The example's own option.
#[derive(Debug, Clone, Default, clap::Args)]
struct SettingsOptions {
    /// which client settings the pool threads use
    #[arg(long, value_enum, default_value_t = Settings::Tuned)]
    settings: Settings,
}

/// The rows of the README's table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
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
    #[default]
    Tuned,
    /// All but the pool size: ureq's 3 idle connections per host.
    TunedSmallPool,
    /// reqwest's blocking client, for comparison.
    Reqwest,
}

/// The std pool of `flags-threadpool` on the client `options` choose.
fn std_pool_with_settings(
    job: &DownloadJob,
    options: &SettingsOptions,
) -> Result<StatusCounter, SetupError> {
    let off = ClientSettings::UREQ_DEFAULTS;
    let settings = match options.settings {
        Settings::Reqwest => return std_pool(job, ReqwestClient::new(job)?),
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
    std_pool(job, HttpClient::with_settings(job, settings)?)
}

/// The thread-pool model with `--settings` in place of its own options.
struct ClientSettingsModel;

impl flags_core::Model for ClientSettingsModel {
    type Options = SettingsOptions;

    fn name(&self) -> &'static str {
        "client_settings"
    }

    fn about(&self) -> &'static str {
        "The std thread pool with the blocking client's settings turned off one at a time."
    }

    fn default_max_req(&self) -> usize {
        default_max_req()
    }

    fn max_max_req(&self) -> usize {
        MAX_MAX_REQ
    }

    fn worker_cost(&self) -> WorkerCost {
        WORKER_COST
    }

    fn download_many(
        &self,
        job: &DownloadJob,
        options: &SettingsOptions,
    ) -> Result<StatusCounter, SetupError> {
        std_pool_with_settings(job, options)
    }
}

fn main() -> std::process::ExitCode {
    flags_core::run(&ClientSettingsModel)
}
