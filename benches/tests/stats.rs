//! The statistics of repeated runs on known samples (median, min–max,
//! medians of CPU and memory, the run a chart draws, the warnings), and
//! the order of interleaved runs. Pure: nothing runs, nothing is timed.

use std::time::Duration;

use flags_benches::compare::run::{Slot, schedule};
use flags_benches::compare::stats::{
    Spread, WIDE_SPREAD, busy_warning, median, median_index, median_u64, spread_warning, was_busy,
};
use flags_benches::compare::sweep::{plan_by_m, schedule_by_m};
use flags_benches::compare::{Repetition, Row, Sample};
use flags_benches::cpu::CpuTimes;
use flags_benches::models::variant_by_name;

/// The median is the middle value, or the mean of the two middle ones;
/// the spread is the least and the most; order does not matter.
#[test]
fn median_and_spread_of_known_samples() {
    let spread = Spread::of(&[0.52, 0.41, 0.47]).expect("three values");
    assert_eq!((spread.median, spread.min, spread.max), (0.47, 0.41, 0.52));
    let spread = Spread::of(&[4.0, 1.0, 3.0, 2.0]).expect("four values");
    assert_eq!((spread.median, spread.min, spread.max), (2.5, 1.0, 4.0));
    let one = Spread::of(&[0.3]).expect("one value");
    assert_eq!((one.median, one.min, one.max), (0.3, 0.3, 0.3));
    assert_eq!(one.width(), 1.0);
    assert_eq!(Spread::of(&[]), None);
    assert_eq!(Spread::of(&[f64::NAN]), None);
    assert_eq!(median(&[5.0, 1.0, 3.0, 2.0, 4.0]), Some(3.0));
    assert_eq!(median_u64(&[7, 100, 9]), Some(9));
    assert_eq!(median_u64(&[1, 2]), Some(2));
}

/// A spread is wide only above 1.25 (max / min), not at it.
#[test]
fn wide_means_above_the_threshold() {
    assert_eq!(WIDE_SPREAD, 1.25);
    let at = Spread::of(&[0.4, 0.5]).expect("values");
    assert_eq!(at.width(), 1.25);
    assert!(!at.is_wide());
    assert!(Spread::of(&[0.4, 0.501]).expect("values").is_wide());
    assert!(Spread::of(&[0.0, 0.1]).expect("values").is_wide());
    let line = spread_warning(
        "async (m = 10)",
        &Spread::of(&[0.4, 0.6]).expect("values"),
        2,
    )
    .expect("a warning");
    assert!(
        line.starts_with(
            "Warning: async (m = 10): the wall times of its 2 runs spread from \
                          0.400 s to 0.600 s (max/min = 1.50, above 1.25)"
        ),
        "{line}"
    );
    assert_eq!(spread_warning("async", &at, 2), None);
}

/// The machine is busy when its 1-minute load average is above its CPUs.
#[test]
fn busy_means_load_above_the_cpus() {
    assert!(!was_busy(Some(1.99), 2));
    assert!(!was_busy(Some(2.0), 2));
    assert!(was_busy(Some(2.01), 2));
    assert!(!was_busy(None, 2));
    let line = busy_warning(Some(3.5), 2).expect("a warning");
    assert!(line.contains("load average was 3.50"), "{line}");
    assert!(line.contains("above its 2 CPUs"), "{line}");
    assert_eq!(busy_warning(Some(1.0), 2), None);
}

/// A run of `wall_ms`, with `cpu_ms` of user time, `rss_kib` of peak
/// memory and `saved` flags.
fn sample(round: usize, wall_ms: u64, cpu_ms: u64, rss_kib: u64, saved: usize) -> Sample {
    Sample {
        round,
        order: round,
        wall: Duration::from_millis(wall_ms),
        cpu: Some(CpuTimes {
            user: Duration::from_millis(cpu_ms),
            system: Duration::ZERO,
        }),
        server_cpu: Some(Duration::from_millis(cpu_ms / 2)),
        peak_rss_kib: Some(rss_kib),
        peak_in_flight: round as u64,
        saved,
        ..Sample::default()
    }
}

/// A row's figures on known runs: the median and min–max of the wall
/// time, the medians of CPU and RSS, the ratio and the CPU-aware bound
/// from them; the worst saved and errors; the run the chart draws is the
/// median one; a failed run counts in none of the figures.
#[test]
fn a_rows_figures_on_known_runs() {
    let mut row = Row::new("async", "async", 10, Duration::from_millis(400));
    row.samples = vec![
        sample(1, 480, 30, 9000, 40),
        sample(2, 420, 10, 8000, 40),
        sample(3, 450, 20, 8500, 39),
        Sample {
            round: 4,
            failure: Some("it exited with 1".to_string()),
            wall: Duration::from_millis(50),
            ..Sample::default()
        },
    ];
    let wall = row.wall().expect("runs went to the end");
    assert_eq!((wall.median, wall.min, wall.max), (0.45, 0.42, 0.48));
    assert_eq!(row.median_wall(), Some(Duration::from_millis(450)));
    assert_eq!(row.cpu(), Some(Duration::from_millis(20)));
    let cpu = row.cpu_spread().expect("CPU measured");
    assert_eq!((cpu.median, cpu.min, cpu.max), (0.02, 0.01, 0.03));
    assert_eq!(row.server_cpu(), Some(Duration::from_millis(10)));
    assert_eq!(row.peak_rss_kib(), Some(8500));
    assert_eq!(row.ratio(), Some(0.45 / 0.4));
    // 0.4 s + (20 ms + 10 ms) / 2 CPUs.
    assert_eq!(row.cpu_bound(2), Some(Duration::from_millis(415)));
    assert_eq!(row.saved(), 0, "the failed run saved nothing");
    assert_eq!(row.failed_runs(), 1);
    assert_eq!(row.failure(), None, "other runs went to the end");
    assert!(!row.is_ok());
    assert_eq!(row.charted().map(|s| s.round), Some(3));
    assert_eq!(row.peak_in_flight(), 3);
    // Even count: the lower middle run is drawn.
    row.samples.truncate(2);
    let median = row.wall().map_or(0.0, |w| w.median);
    assert!((median - 0.45).abs() < 1e-12, "{median}");
    assert_eq!(row.charted().map(|s| s.round), Some(2));
    assert_eq!(median_index(&[0.48, 0.42]), Some(1));
    // Every run failed: no figure, the first failure said.
    let mut failed = Row::new("seq", "seq", 1, Duration::from_secs(4));
    failed.samples = vec![Sample {
        failure: Some("cannot run".to_string()),
        ..Sample::default()
    }];
    assert_eq!(failed.wall(), None);
    assert_eq!(failed.ratio(), None);
    assert_eq!(failed.failure(), Some("cannot run"));
}

/// A repetition warns of a busy machine first, then of each row whose
/// runs spread wide, naming it.
#[test]
fn warnings_name_the_busy_machine_and_wide_rows() {
    let mut steady = Row::new(
        "threadpool",
        "threadpool (std)",
        10,
        Duration::from_millis(400),
    );
    steady.samples = vec![sample(1, 420, 1, 1, 40), sample(2, 430, 1, 1, 40)];
    let mut wide = Row::new("process", "process", 10, Duration::from_millis(400));
    wide.samples = vec![sample(1, 420, 1, 1, 40), sample(2, 640, 1, 1, 40)];
    let quiet = Repetition {
        runs: 2,
        warmup: 0,
        cpus: 2,
        load_average: Some(0.5),
    };
    let warnings = quiet.warnings([&steady, &wide]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("Warning: process (m = 10): "),
        "{warnings:?}"
    );
    let busy = Repetition {
        load_average: Some(4.0),
        ..quiet
    };
    let warnings = busy.warnings([&steady]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("Warning: the machine was busy"),
        "{warnings:?}"
    );
}

/// Runs are interleaved: every row once per round, warm-up rounds first
/// and unnumbered.
#[test]
fn runs_are_interleaved() {
    let slots = schedule(3, 3, 1);
    let rows: Vec<usize> = slots.iter().map(|slot| slot.row).collect();
    assert_eq!(rows, [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    let rounds: Vec<Option<usize>> = slots.iter().map(|slot| slot.round).collect();
    assert_eq!(
        rounds,
        [
            None,
            None,
            None,
            Some(1),
            Some(1),
            Some(1),
            Some(2),
            Some(2),
            Some(2),
            Some(3),
            Some(3),
            Some(3)
        ]
    );
    assert_eq!(
        schedule(2, 1, 0),
        [
            Slot {
                row: 0,
                round: Some(1)
            },
            Slot {
                row: 1,
                round: Some(1)
            }
        ]
    );
    assert!(schedule(0, 3, 1).is_empty());
}

/// A sweep interleaves at each m in turn: its warm-up rounds, then its
/// measured rounds; a value that a model's cap makes a repeat is not run
/// again.
#[test]
fn a_sweep_interleaves_m_by_m() {
    let models = ["threadpool", "process"].map(|name| variant_by_name(name).expect("a model"));
    let groups = plan_by_m(&models, false, &[1, 300, 676], 676);
    let names: Vec<Vec<(&str, usize)>> = groups
        .iter()
        .map(|group| group.iter().map(|run| (run.name(), run.max_req)).collect())
        .collect();
    assert_eq!(
        names,
        [
            vec![("threadpool", 1), ("process", 1)],
            vec![("threadpool", 300), ("process", 256)],
            vec![("threadpool", 676)],
        ]
    );
    let order: Vec<(usize, Option<usize>)> = schedule_by_m(&groups, 2, 1)
        .iter()
        .map(|slot| (slot.row, slot.round))
        .collect();
    assert_eq!(
        order,
        [
            (0, None),
            (1, None),
            (0, Some(1)),
            (1, Some(1)),
            (0, Some(2)),
            (1, Some(2)),
            (2, None),
            (3, None),
            (2, Some(1)),
            (3, Some(1)),
            (2, Some(2)),
            (3, Some(2)),
            (4, None),
            (4, Some(1)),
            (4, Some(2)),
        ]
    );
}
