//! The criterion suite: every model on the same workloads, through the one
//! harness of `flags_benches::harness`.
//!
//! One group per workload, one benchmark per model in it, one in-process
//! flag server per group:
//!
//! - `12-flags-50ms-delay`: 12 flags, a fixed 50 ms delay, `-m 4`. Waiting
//!   dominates: the bound is 12 x 50 ms = 600 ms for `seq` and
//!   ceil(12 / 4) x 50 ms = 150 ms for the others, and the figures say how
//!   close each model comes to it.
//! - `194-flags-no-delay`: all 194 flags, no delay, `-m 4`. Nothing to wait
//!   for: what is measured is each model's own cost (threads, tasks,
//!   processes, connections, saving), on a loaded two-core machine.
//!
//! Each iteration downloads into a fresh temporary folder; only the call to
//! `download_many` is timed, and after it every saved file is compared with
//! the server's flag (a wrong result stops the suite with a panic).
//!
//! Sizes: 10 samples (criterion's minimum) of flat sampling, 1 s of warm-up
//! and a few seconds of measurement per model, so the whole suite takes
//! about two minutes on two cores; `cargo bench -- --test` runs each model
//! once per workload.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode};
use flags_benches::harness::run_model;
use flags_benches::models::ALL_MODELS;
use flags_core::DownloadJob;
use flags_core::countries::all_cc;
use flags_server::{Delay, FlagServer, ServerConfig};

/// One workload: the same codes, delay and `-m` for every model.
struct Workload {
    /// The group's name in criterion's report.
    name: &'static str,
    /// How many codes of the `-a` list.
    code_count: usize,
    /// The server's delay.
    delay: Delay,
    /// `-m`, capped by each model.
    max_req: usize,
    /// Criterion's measurement time per model.
    measurement_time: Duration,
}

/// The two workloads of the suite.
const WORKLOADS: [Workload; 2] = [
    Workload {
        name: "12-flags-50ms-delay",
        code_count: 12,
        delay: Delay::Fixed(Duration::from_millis(50)),
        max_req: 4,
        // 10 samples of seq take 10 x 0.6 s: ask for a little more so that
        // criterion does not warn that it cannot fit them.
        measurement_time: Duration::from_secs(7),
    },
    Workload {
        name: "194-flags-no-delay",
        code_count: 194,
        delay: Delay::None,
        max_req: 4,
        measurement_time: Duration::from_secs(5),
    },
];

/// Benchmark every model on `workload`, against one server started for the
/// group.
fn bench_workload(criterion: &mut Criterion, workload: &Workload) {
    let server = FlagServer::start(ServerConfig {
        delay: workload.delay,
        ..ServerConfig::default()
    })
    .expect("the in-process flag server starts");
    let codes: Vec<String> = all_cc()
        .into_iter()
        .take(workload.code_count)
        .map(String::from)
        .collect();
    let mut group = criterion.benchmark_group(workload.name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(workload.measurement_time);
    for model in &ALL_MODELS {
        // The destination is replaced by a fresh folder on every run.
        let job = DownloadJob::new(codes.clone(), server.base_url(), "unused")
            .with_max_req(model.actual_max_req(workload.max_req, codes.len()));
        group.bench_with_input(
            BenchmarkId::from_parameter(model.name),
            &job,
            |bencher, job| {
                bencher.iter_custom(|iterations| {
                    let mut timed = Duration::ZERO;
                    for _ in 0..iterations {
                        // Keep the server's request log short between runs.
                        server.reset_stats();
                        let outcome = run_model(model, job)
                            .unwrap_or_else(|error| panic!("{}: {error}", workload.name));
                        timed += outcome.elapsed;
                    }
                    timed
                });
            },
        );
    }
    group.finish();
    server.shutdown();
}

fn main() {
    // The process model re-runs this executable as its workers: when this
    // process is one of them, it serves its parent and exits here.
    flags_process::worker_main_if_requested();
    let mut criterion = Criterion::default().configure_from_args();
    for workload in &WORKLOADS {
        bench_workload(&mut criterion, workload);
    }
    criterion.final_summary();
}
