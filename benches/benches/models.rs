//! The criterion suite: every default row of `flags_benches::models` (seq,
//! threadpool, rayon, threads, async, process: each a
//! [`flags_core::Variant`]) on the same workloads, through the one harness
//! of `flags_benches::harness`.
//!
//! One group per workload, one benchmark per row in it, one in-process
//! flag server per group:
//!
//! - `12-flags-50ms-delay`: 12 flags, a fixed 50 ms delay, `-m 4`. Waiting
//!   dominates: the bound is 12 x 50 ms = 600 ms for `seq` and
//!   ceil(12 / 4) x 50 ms = 150 ms for the others, and the figures say how
//!   close each model comes to it.
//! - `194-flags-no-delay`: all 194 flags, no delay, `-m 4`. Nothing to wait
//!   for: what is measured is each model's own cost (threads, tasks,
//!   processes, connections, saving), on a loaded two-core machine.
//! - `676-flags-20ms-delay-high-m`: every code AA..ZZ (194 flags, 482
//!   not found), 20 ms each, at `-m 100` and at each model's maximum up to
//!   676 (the process pool's is 256): the concurrent models only (seq has
//!   no `-m`, and would wait 676 x 20 ms). The bound is 140 ms at `-m 100`
//!   and 20 ms at 676; what the figures show over it is what a hundred or
//!   more requests in flight cost each model on two cores: starting that
//!   many threads, tasks or processes, and serving that many connections.
//!   `flags-compare --sweep` measures the same from outside (CPU, memory).
//!
//! Each iteration downloads into a fresh temporary folder; only the call to
//! `download_many` is timed, and after it every saved file is compared with
//! the server's flag (a wrong result stops the suite with a panic).
//!
//! Sizes: 10 samples (criterion's minimum) of flat sampling, 1 s of warm-up
//! and a few seconds of measurement per row, so the whole suite takes
//! a few minutes on two cores (4 min 3 s measured with the five rows before
//! threads, the build aside;
//! the high-m group is the longest, as the process pool at 256 starts 256
//! workers on every iteration);
//! `cargo bench -- --test` runs each benchmark once.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode};
use flags_benches::harness::run_model;
use flags_benches::models::{DEFAULT_VARIANTS, Variant};
use flags_core::DownloadJob;
use flags_core::countries::{all_cc, every_cc};
use flags_server::{Delay, FlagServer, ServerConfig};

/// Which codes a workload downloads.
#[derive(Clone, Copy)]
enum Codes {
    /// The first N of the `-a` list.
    All(usize),
    /// Every code AA..ZZ, as `-e`.
    Every,
}

/// One workload: the same codes, delay and `-m` list for every model.
struct Workload {
    /// The group's name in criterion's report.
    name: &'static str,
    /// The codes.
    codes: Codes,
    /// The server's delay.
    delay: Delay,
    /// The `-m` of each benchmark, capped by each model (one benchmark per
    /// capped value).
    max_reqs: &'static [usize],
    /// Only the models with concurrency (not seq).
    concurrent_only: bool,
    /// Criterion's measurement time per benchmark.
    measurement_time: Duration,
}

/// The workloads of the suite.
const WORKLOADS: [Workload; 3] = [
    Workload {
        name: "12-flags-50ms-delay",
        codes: Codes::All(12),
        delay: Delay::Fixed(Duration::from_millis(50)),
        max_reqs: &[4],
        concurrent_only: false,
        // 10 samples of seq take 10 x 0.6 s: ask for a little more so that
        // criterion does not warn that it cannot fit them.
        measurement_time: Duration::from_secs(7),
    },
    Workload {
        name: "194-flags-no-delay",
        codes: Codes::All(194),
        delay: Delay::None,
        max_reqs: &[4],
        concurrent_only: false,
        measurement_time: Duration::from_secs(5),
    },
    Workload {
        name: "676-flags-20ms-delay-high-m",
        codes: Codes::Every,
        delay: Delay::Fixed(Duration::from_millis(20)),
        // 100, then each model's maximum up to 676.
        max_reqs: &[100, 676],
        concurrent_only: true,
        // 10 samples of the process pool at 256 take 10 x 0.6 s, of rayon
        // at 676 10 x 0.5 s: room for them, so criterion does not warn.
        measurement_time: Duration::from_secs(7),
    },
];

/// The rows of `workload`, each with the `-m` it runs at: every value of
/// the workload's list capped by the variant, each once.
fn benchmarks(workload: &Workload, code_count: usize) -> Vec<(&'static Variant, usize)> {
    let mut runs = Vec::new();
    for variant in &DEFAULT_VARIANTS {
        if workload.concurrent_only && variant.model.max_max_req() <= 1 {
            continue;
        }
        for &max_req in workload.max_reqs {
            let run = (variant, variant.actual_max_req(max_req, code_count));
            if !runs.contains(&run) {
                runs.push(run);
            }
        }
    }
    runs
}

/// Benchmark every model on `workload`, against one server started for the
/// group.
fn bench_workload(criterion: &mut Criterion, workload: &Workload) {
    let server = FlagServer::start(ServerConfig {
        delay: workload.delay,
        ..ServerConfig::default()
    })
    .expect("the in-process flag server starts");
    let codes: Vec<String> = match workload.codes {
        Codes::All(count) => all_cc().into_iter().take(count).map(String::from).collect(),
        Codes::Every => every_cc(),
    };
    let mut group = criterion.benchmark_group(workload.name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(workload.measurement_time);
    let several_m = workload.max_reqs.len() > 1;
    for (variant, max_req) in benchmarks(workload, codes.len()) {
        // The destination is replaced by a fresh folder on every run.
        let job =
            DownloadJob::new(codes.clone(), server.base_url(), "unused").with_max_req(max_req);
        // One benchmark per model, or per model and m when there are
        // several.
        let id = if several_m {
            BenchmarkId::new(variant.name, format!("m={max_req}"))
        } else {
            BenchmarkId::from_parameter(variant.name)
        };
        group.bench_with_input(id, &job, |bencher, job| {
            bencher.iter_custom(|iterations| {
                let mut timed = Duration::ZERO;
                for _ in 0..iterations {
                    // Keep the server's request log short between runs.
                    server.reset_stats();
                    let outcome = run_model(variant, job)
                        .unwrap_or_else(|error| panic!("{}: {error}", workload.name));
                    timed += outcome.elapsed;
                }
                timed
            });
        });
    }
    group.finish();
    server.shutdown();
}

fn main() {
    // The process model re-runs this executable as its workers: when this
    // process is one of them, it serves its parent and exits here.
    flags_benches::models::serve_if_worker();
    let mut criterion = Criterion::default().configure_from_args();
    for workload in &WORKLOADS {
        bench_workload(&mut criterion, workload);
    }
    criterion.final_summary();
}
