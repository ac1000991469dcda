//! The model as everything that runs it sees it: [`SEQ`], the
//! [`Model`](flags_core::Model) the binary, the tests and the benches call.

use flags_core::{DownloadJob, SetupError, StatusCounter};

use crate::{MAX_MAX_REQ, WORKER_COST, default_max_req, download_many};

/// The sequential model, as the binary, the tests and the benches run it.
pub static SEQ: SeqModel = SeqModel;

/// The [`Model`](flags_core::Model) of this crate: one request at a time.
#[derive(Debug)]
pub struct SeqModel;

impl flags_core::Model for SeqModel {
    type Options = flags_core::NoOptions;

    fn name(&self) -> &'static str {
        "seq"
    }

    fn about(&self) -> &'static str {
        "Download flags one after another: the sequential baseline."
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
        _options: &flags_core::NoOptions,
    ) -> Result<StatusCounter, SetupError> {
        download_many(job)
    }
}
