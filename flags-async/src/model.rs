//! The model as everything that runs it sees it: [`ASYNC`], its one option
//! (`--metadata`), and how a run is set up around [`download_many`]: the
//! client, then a runtime to run it on.

use flags_core::{DownloadJob, Progress, SetupError, StatusCounter};

use crate::{HttpClient, MAX_MAX_REQ, WORKER_COST, default_max_req, download_many, runtime};

/// The options only this model has, added to the common command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::Args)]
pub struct AsyncOptions {
    /// also fetch each {cc}/metadata.json and save the flag as {Country_Name}.gif
    #[arg(long)]
    pub metadata: bool,
}

/// The async model, as the binary, the tests and the benches run it.
pub static ASYNC: AsyncModel = AsyncModel;

/// The [`Model`](flags_core::Model) of this crate: tasks on one thread,
/// at most `-m` requests at a time.
#[derive(Debug)]
pub struct AsyncModel;

impl flags_core::Model for AsyncModel {
    type Options = AsyncOptions;

    fn name(&self) -> &'static str {
        "async"
    }

    fn about(&self) -> &'static str {
        "Download flags as tokio tasks on one thread, at most -m requests at a time."
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

    /// Build the client and a current-thread runtime, then run
    /// [`download_many`] to the end on them: the book's `asyncio.run`.
    fn download_many(
        &self,
        job: &DownloadJob,
        options: &AsyncOptions,
    ) -> Result<StatusCounter, SetupError> {
        // First the client: it looks the server's name up, which blocks.
        let client = HttpClient::new(job)?;
        let runtime = runtime::current_thread()?;
        let progress = Progress::new(job.country_codes.len(), job.verbose);
        // `block_on` runs the collecting loop and every task on this thread
        // until all have ended; the progress is drawn by a thread of its own.
        Ok(runtime::with_progress_thread(progress, |on_finished| {
            runtime.block_on(download_many(job, client, options, on_finished))
        }))
    }
}
