//! The model as everything that runs it sees it: [`THREADPOOL`], its
//! options (`--executor`, `--client`) and which function each pair runs.

use flags_core::{DownloadJob, SetupError, StatusCounter};
use flags_seq::BlockingClient;

use crate::{
    HttpClient, MAX_MAX_REQ, ReqwestClient, WORKER_COST, default_max_req, rayon_pool, std_pool,
    thread_per_code,
};

/// The thread-pool model, as the binary, the tests and the benches run it.
pub static THREADPOOL: ThreadpoolModel = ThreadpoolModel;

/// The [`Model`](flags_core::Model) of this crate: threads, `--executor`
/// and `--client` chosen by [`ThreadpoolOptions`].
#[derive(Debug)]
pub struct ThreadpoolModel;

impl flags_core::Model for ThreadpoolModel {
    type Options = ThreadpoolOptions;

    fn name(&self) -> &'static str {
        "threadpool"
    }

    fn about(&self) -> &'static str {
        "Download flags with a pool of threads, each doing its own blocking I/O."
    }

    fn default_max_req(&self) -> usize {
        default_max_req()
    }

    fn max_max_req(&self) -> usize {
        MAX_MAX_REQ
    }

    fn worker_cost(&self) -> flags_core::limits::WorkerCost {
        WORKER_COST
    }

    fn download_many(
        &self,
        job: &DownloadJob,
        options: &ThreadpoolOptions,
    ) -> Result<StatusCounter, SetupError> {
        match options.client {
            ClientKind::Ureq => run_on(job, options.executor, HttpClient::new(job)?),
            ClientKind::Reqwest => run_on(job, options.executor, ReqwestClient::new(job)?),
        }
    }
}

/// Run `job` on `executor` with `client`.
fn run_on<C>(
    job: &DownloadJob,
    executor: ExecutorKind,
    client: C,
) -> Result<StatusCounter, SetupError>
where
    C: BlockingClient + Clone + Send + 'static,
{
    match executor {
        ExecutorKind::Std => std_pool(job, client),
        ExecutorKind::Rayon => rayon_pool(job, &client),
        ExecutorKind::Threads => thread_per_code(job, &client),
    }
}

/// The model's own options: which executor runs the downloads, on which
/// client.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ThreadpoolOptions {
    /// which threads run the downloads
    #[arg(long, value_enum, default_value_t = ExecutorKind::Std)]
    pub executor: ExecutorKind,
    /// which blocking HTTP client the threads call
    #[arg(long, value_enum, default_value_t = ClientKind::Ureq)]
    pub client: ClientKind,
}

/// The clients of `--client`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientKind {
    /// ureq: each thread does its own socket I/O.
    #[default]
    Ureq,
    /// reqwest::blocking: one hidden runtime thread does every thread's I/O.
    Reqwest,
}

/// The executors of `--executor`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorKind {
    /// This crate's `ThreadPoolExecutor`, std threads only.
    #[default]
    Std,
    /// A rayon thread pool.
    Rayon,
    /// No pool: one new thread per code, at most `-m` at once.
    Threads,
}
