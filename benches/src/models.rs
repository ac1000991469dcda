//! The five models, by name, as one table: what `--models` chooses from and
//! what the criterion suite iterates over; and the comparison rows that
//! `--models` also takes but runs only when asked ([`EXTRA_MODELS`]).
//!
//! Every model crate exposes the same `download_many(&DownloadJob) ->
//! Result<StatusCounter, SetupError>`, so one function pointer type holds
//! them all, and the comparison never needs to know which is which.

pub use flags_core::DownloadMany;

/// One concurrency model: its name on the command line, how it is shown,
/// its `download_many`, and the most requests it ever has in flight.
#[derive(Clone, Copy)]
pub struct Model {
    /// The name `--models` and `--run-model` take, e.g. `rayon`.
    pub name: &'static str,
    /// The name in the table and the chart, e.g. `threadpool (rayon)`.
    pub label: &'static str,
    /// The model's `download_many`.
    pub download_many: DownloadMany,
    /// The model's maximum concurrency: `-m` is capped at this.
    pub max_max_req: usize,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Model")
            .field("name", &self.name)
            .field("max_max_req", &self.max_max_req)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Model {
    /// Two models are the same when they have the same name.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Model {}

impl Model {
    /// The concurrency this model really uses when asked for `max_req` on
    /// `code_count` codes: min(`-m`, the model's maximum, the number of
    /// codes), and at least 1, as the contract says.
    ///
    /// ```
    /// use flags_benches::models::model_by_name;
    /// let seq = model_by_name("seq").unwrap();
    /// let pool = model_by_name("threadpool").unwrap();
    /// assert_eq!(seq.actual_max_req(10, 40), 1);
    /// assert_eq!(pool.actual_max_req(10, 40), 10);
    /// assert_eq!(pool.actual_max_req(10, 4), 4);
    /// ```
    pub fn actual_max_req(&self, max_req: usize, code_count: usize) -> usize {
        max_req.min(self.max_max_req).min(code_count).max(1)
    }
}

/// Every model, in the order of the table: the baseline first, then from
/// threads to tasks to processes.
pub const ALL_MODELS: [Model; 5] = [
    Model {
        name: "seq",
        label: "seq",
        download_many: flags_seq::download_many,
        max_max_req: flags_seq::MAX_MAX_REQ,
    },
    Model {
        name: "threadpool",
        label: "threadpool (std)",
        download_many: flags_threadpool::download_many,
        max_max_req: flags_threadpool::MAX_MAX_REQ,
    },
    Model {
        name: "rayon",
        label: "threadpool (rayon)",
        download_many: flags_threadpool::download_many_rayon,
        max_max_req: flags_threadpool::MAX_MAX_REQ,
    },
    Model {
        name: "async",
        label: "async",
        download_many: flags_async::download_many,
        max_max_req: flags_async::MAX_MAX_REQ,
    },
    Model {
        name: "process",
        label: "process",
        download_many: flags_process::download_many,
        max_max_req: flags_process::MAX_MAX_REQ,
    },
];

/// Rows run only when `--models` names them: the std pool on
/// reqwest's blocking client, whose hidden runtime thread does every pool
/// thread's I/O (`flags-threadpool --client reqwest`), to measure what that
/// costs next to the default ureq pool; the async model on hyper's
/// client with a pool of its own (`flags-async --client hyper`), to measure
/// what reqwest's convenience costs per connection; and the process pool
/// with every worker spawned (`flags-process --start-method spawn`), to
/// measure what its fork server saves.
pub const EXTRA_MODELS: [Model; 3] = [
    Model {
        name: "threadpool-reqwest",
        label: "threadpool (reqwest::blocking)",
        download_many: flags_threadpool::download_many_reqwest,
        max_max_req: flags_threadpool::MAX_MAX_REQ,
    },
    Model {
        name: "async-hyper",
        label: "async (hyper)",
        download_many: flags_async::download_many_hyper,
        max_max_req: flags_async::MAX_MAX_REQ,
    },
    Model {
        name: "process-spawn",
        label: "process (spawn)",
        download_many: flags_process::download_many_spawn,
        max_max_req: flags_process::MAX_MAX_REQ,
    },
];

/// The names `--models` accepts, comma-separated, for messages.
pub fn model_names() -> String {
    ALL_MODELS
        .iter()
        .chain(&EXTRA_MODELS)
        .map(|model| model.name)
        .collect::<Vec<_>>()
        .join(",")
}

/// The model called `name` (`seq`, `threadpool`, `rayon`, `async`,
/// `process`, `threadpool-reqwest`, `async-hyper`, `process-spawn`), in any
/// case.
///
/// ```
/// use flags_benches::models::model_by_name;
/// assert_eq!(model_by_name("Rayon").unwrap().label, "threadpool (rayon)");
/// assert!(model_by_name("threadpool-reqwest").is_some());
/// assert!(model_by_name("async-hyper").is_some());
/// assert!(model_by_name("process-spawn").is_some());
/// assert!(model_by_name("goroutines").is_none());
/// ```
pub fn model_by_name(name: &str) -> Option<&'static Model> {
    ALL_MODELS
        .iter()
        .chain(&EXTRA_MODELS)
        .find(|model| model.name.eq_ignore_ascii_case(name.trim()))
}
