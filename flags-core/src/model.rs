//! The one interface every concurrency model implements.
//!
//! A model crate exports one value of a type that implements [`Model`]:
//! `flags_seq::SEQ`, `flags_threadpool::THREADPOOL`, `flags_async::ASYNC`,
//! `flags_process::PROCESS`. It says what the model is called, how much
//! concurrency it takes, what one of its workers costs, which options of
//! its own it reads, and how it downloads. Everything that runs a model
//! goes through it: the binaries (`flags_core::run(&MODEL)`), the test
//! kit's contract checks, the criterion suite and `flags-compare`.
//!
//! A *variant* is a model with some of its options set, named for the
//! comparison: rayon is the thread-pool model with `--executor rayon`.
//! [`Variant`] holds one, and [`AnyModel`] is what lets one list hold
//! variants of models whose option types differ.

use std::fmt;

use clap::{Args, Command, FromArgMatches};

use crate::limits::WorkerCost;
use crate::{DownloadJob, SetupError, StatusCounter};

/// A concurrency model: what the binaries, the tests and the benches know
/// of it.
pub trait Model: Sync + 'static {
    /// The model's own command-line options (`--executor`, `--client`,
    /// `--start-method`, `--metadata`), parsed by clap next to the common
    /// ones. Their defaults are what the model's binary does unasked.
    type Options: Args + FromArgMatches + Default + Clone + fmt::Debug + Send + Sync;

    /// The model's name, as in its crate and binary: `seq`, `threadpool`,
    /// `async`, `process`.
    fn name(&self) -> &'static str;

    /// One line for `--help`: what this model is.
    fn about(&self) -> &'static str;

    /// `-m` when the command line does not say.
    fn default_max_req(&self) -> usize;

    /// The most requests this model ever has in flight; `-m` is capped at
    /// it.
    fn max_max_req(&self) -> usize;

    /// What one worker (a thread, a task, a worker process) takes from the
    /// process limits, so that `run` can lower `-m` to what fits.
    fn worker_cost(&self) -> WorkerCost;

    /// Download every code of `job`, at most `job.max_req` at a time, and
    /// count the outcomes. `Err` only for a run that cannot start.
    fn download_many(
        &self,
        job: &DownloadJob,
        options: &Self::Options,
    ) -> Result<StatusCounter, SetupError>;

    /// When this process was started as one of the model's own worker
    /// programs (the process pool's workers are the same executable in a
    /// hidden mode), serve as one and exit; otherwise return at once.
    /// Called first thing by `run` and by every program that runs the
    /// model. Only the process model has workers of its own.
    fn serve_if_worker(&self) {}
}

/// A [`Model`] with its option type erased, so that one list can hold
/// variants of every model. Implemented for every model.
pub trait AnyModel: Sync {
    /// [`Model::name`].
    fn name(&self) -> &'static str;
    /// [`Model::max_max_req`].
    fn max_max_req(&self) -> usize;
    /// [`Model::serve_if_worker`].
    fn serve_if_worker(&self);
    /// Parse `args` as the model's own options (for example
    /// `["--executor", "rayon"]`), then [`Model::download_many`].
    fn download_many_with_args(
        &self,
        job: &DownloadJob,
        args: &[&str],
    ) -> Result<StatusCounter, SetupError>;
}

impl<M: Model> AnyModel for M {
    fn name(&self) -> &'static str {
        Model::name(self)
    }

    fn max_max_req(&self) -> usize {
        Model::max_max_req(self)
    }

    fn serve_if_worker(&self) {
        Model::serve_if_worker(self);
    }

    fn download_many_with_args(
        &self,
        job: &DownloadJob,
        args: &[&str],
    ) -> Result<StatusCounter, SetupError> {
        let options = parse_options::<M::Options>(Model::name(self), args)?;
        Model::download_many(self, job, &options)
    }
}

/// Parse a model's own options from `args` alone, as its binary would
/// after the common options.
pub fn parse_options<O: Args + FromArgMatches>(
    model_name: &str,
    args: &[&str],
) -> Result<O, SetupError> {
    let bad = |error: clap::Error| SetupError::Start {
        what: "model (its options)",
        reason: format!(
            "{model_name} {}: {}",
            args.join(" "),
            error.kind().as_str().unwrap_or("not understood")
        ),
    };
    let command = O::augment_args(Command::new(model_name.to_string()).no_binary_name(true));
    let matches = command.try_get_matches_from(args).map_err(bad)?;
    O::from_arg_matches(&matches).map_err(bad)
}

/// One row of a comparison: a model with some of its options set, named.
/// Rayon, for example, is the thread-pool model with `--executor rayon`:
/// `Variant { name: "rayon", label: "threadpool (rayon)", model:
/// &flags_threadpool::THREADPOOL, args: &["--executor", "rayon"] }`.
#[derive(Clone, Copy)]
pub struct Variant {
    /// The name `flags-compare --models` takes, e.g. `rayon`.
    pub name: &'static str,
    /// The name in tables and charts, e.g. `threadpool (rayon)`.
    pub label: &'static str,
    /// The model.
    pub model: &'static dyn AnyModel,
    /// Its options, as on its binary's command line.
    pub args: &'static [&'static str],
}

impl Variant {
    /// Run this variant on `job`.
    pub fn download_many(&self, job: &DownloadJob) -> Result<StatusCounter, SetupError> {
        self.model.download_many_with_args(job, self.args)
    }

    /// The concurrency this variant really uses when asked for `max_req`
    /// on `code_count` codes: min(`-m`, the model's maximum, the number of
    /// codes), and at least 1.
    pub fn actual_max_req(&self, max_req: usize, code_count: usize) -> usize {
        max_req.min(self.model.max_max_req()).min(code_count).max(1)
    }
}

impl fmt::Debug for Variant {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Variant")
            .field("name", &self.name)
            .field("model", &self.model.name())
            .field("args", &self.args)
            .finish()
    }
}

impl PartialEq for Variant {
    /// Two variants are the same when they have the same name.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Variant {}
