//! The tables `flags-compare` prints. The comparison's: a line on the
//! workload and on how the runs were repeated, one line per row (the
//! median wall time and its min–max, the bound, their ratio, the speedup
//! over seq, the median CPU and its min–max, the median peak memory, peak
//! concurrency, flags saved, errors), then notes. The sweep's ([`render_sweep_table`]): one line per
//! model and `m`, with the CPU-aware bound, CPU and memory per request.
//!
//! Each table is made once as a [`Table`] of cells, then written as text
//! columns here, as markdown ([`super::markdown`]) or as HTML
//! ([`super::html`]). Their shape is part of the interface: the tests read
//! them cell by cell.

use std::time::Duration;

use super::comparison::{Comparison, Row};
use super::run::codes_phrase;
use super::stats::Spread;
use super::sweep::{Sweep, SweepStats, join};

/// A table: a header and lines of cells, as many as the header has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    pub(crate) header: Vec<String>,
    /// The lines, each a cell per column.
    pub(crate) lines: Vec<Vec<String>>,
}

impl Table {
    /// Columns of text: the first left-aligned, the others right-aligned,
    /// each as wide as its widest cell, two spaces apart; a rule under the
    /// header.
    pub(crate) fn to_text(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for line in &self.lines {
            for (width, cell) in widths.iter_mut().zip(line) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let format_line = |cells: &[String]| {
            let mut line = String::new();
            for (column, (cell, width)) in cells.iter().zip(&widths).enumerate() {
                let width = *width;
                if column == 0 {
                    line.push_str(&format!("{cell:<width$}"));
                } else {
                    line.push_str(&format!("  {cell:>width$}"));
                }
            }
            line.trim_end().to_string() + "\n"
        };
        let mut text = format_line(&self.header);
        let rule_width = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
        text.push_str(&"-".repeat(rule_width));
        text.push('\n');
        for line in &self.lines {
            text.push_str(&format_line(line));
        }
        text
    }
}

/// A memory size for the table: `12.3 MiB`.
fn mebibytes(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A duration for the table: `0.412 s`.
fn seconds(duration: Duration) -> String {
    format!("{:.3} s", duration.as_secs_f64())
}

/// The spread of a row's runs, `0.401–0.455 s`, or `-` for a single run.
fn spread_cell(wall: Option<Spread>, runs: usize) -> String {
    match wall {
        Some(wall) if runs > 1 => format!("{:.3}–{:.3} s", wall.min, wall.max),
        _ => "-".to_string(),
    }
}

/// The lines above a comparison's table: the workload, how the runs were
/// repeated, and what the columns mean.
pub(crate) fn comparison_heading(comparison: &Comparison) -> String {
    format!(
        "{} ({}), server delay {} s, -m {}; {}\n\
         bound = ceil(N / m) x delay: the least time m requests at a time can take \
         (N x delay for seq). CPU = user + system of the model's processes, the median of \
         the runs' and their min–max; peak RSS is the median of the runs'.\n",
        codes_phrase(&comparison.country_codes),
        codes_summary(&comparison.country_codes),
        comparison.delay.as_secs_f64(),
        comparison.max_req,
        comparison.repetition.describe()
    )
}

/// The comparison's table: one line per row.
pub(crate) fn comparison_table(comparison: &Comparison) -> Table {
    let header = [
        "model",
        "m",
        "wall",
        "min–max",
        "bound",
        "ratio",
        "speedup",
        "CPU",
        "CPU min–max",
        "peak RSS",
        "peak in flight",
        "saved",
        "errors",
    ];
    let seq_wall = comparison.seq_wall();
    let mut lines = Vec::new();
    for row in &comparison.rows {
        let wall = row.wall();
        let ratio = row
            .ratio()
            .map_or_else(|| "-".to_string(), |ratio| format!("{ratio:.2}"));
        let speedup = match (seq_wall, row.median_wall()) {
            (Some(seq), Some(wall)) if !wall.is_zero() => {
                format!("{:.1}x", seq.as_secs_f64() / wall.as_secs_f64())
            }
            _ => "-".to_string(),
        };
        let rss = match row.peak_rss_kib() {
            Some(kib) if row.processes() > 1 => {
                format!("{} ({}p)", mebibytes(kib), row.processes())
            }
            Some(kib) => mebibytes(kib),
            None => "-".to_string(),
        };
        let [label, max_req, wall_cell, bound] = run_cells(row);
        lines.push(vec![
            label,
            max_req,
            wall_cell,
            spread_cell(wall, row.ran().count()),
            bound,
            ratio,
            speedup,
            row.cpu().map_or_else(|| "-".to_string(), seconds),
            spread_cell(row.cpu_spread(), row.ran().count()),
            rss,
            row.peak_in_flight().to_string(),
            row.saved().to_string(),
            row.errors().to_string(),
        ]);
    }
    Table {
        header: header.map(str::to_string).to_vec(),
        lines,
    }
}

/// The notes under a comparison's table: what `(Np)` means, each run
/// that failed or saved something wrong, then the comparison's notes.
pub(crate) fn comparison_notes(comparison: &Comparison) -> Vec<String> {
    let mut notes = Vec::new();
    if comparison.rows.iter().any(|row| row.processes() > 1) {
        notes.push("(Np): N processes at once; peak RSS is the sum of their peaks.".to_string());
    }
    for row in &comparison.rows {
        notes.extend(row_problems(row, &row.label));
    }
    notes.extend(comparison.notes.iter().cloned());
    notes
}

/// What went wrong in `row`'s runs, one note per failed run and one per
/// problem (ten at most per run), each headed by `what`.
fn row_problems(row: &Row, what: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let several = row.samples.len() > 1;
    for sample in &row.samples {
        let what = if several {
            format!("{what} (run {})", sample.round)
        } else {
            what.to_string()
        };
        if let Some(failure) = &sample.failure {
            notes.push(format!("{what} failed: {failure}"));
        }
        for problem in sample.problems.iter().take(10) {
            notes.push(format!("{what}: {problem}"));
        }
        if sample.problems.len() > 10 {
            notes.push(format!(
                "{what}: and {} more problems",
                sample.problems.len() - 10
            ));
        }
    }
    notes
}

/// The table of a comparison, as printed: the heading, one line per row,
/// and notes.
pub fn render_table(comparison: &Comparison) -> String {
    let mut text = comparison_heading(comparison);
    text.push('\n');
    text.push_str(&comparison_table(comparison).to_text());
    for note in comparison_notes(comparison) {
        text.push_str(&format!("\n{note}\n"));
    }
    text
}

/// `AD to BW` for many codes, `BR, CN, JP` for ten or fewer.
fn codes_summary(country_codes: &[String]) -> String {
    match country_codes {
        [first, .., last] if country_codes.len() > 10 => format!("{first} to {last}"),
        codes => codes.join(", "),
    }
}

/// A number of microseconds, or `-`.
fn micros(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |us| format!("{us:.0} µs"))
}

/// The lines above a sweep's table: the workload, how the runs were
/// repeated, and what the columns mean.
pub(crate) fn sweep_heading(sweep: &Sweep) -> String {
    format!(
        "Sweep: {} ({}), server delay {} s, m = {}; {}\n\
         ratio = median wall / (ceil(N / m) x delay); CPU-aware bound = that bound + (the \
         model's CPU + the server's CPU) / {} CPUs; CPU/req = user + system of the model's \
         processes (wait4) / N; server/req = the in-process server's threads, same run; \
         peak PSS = peak RSS with each page shared between processes split among them; \
         KiB/in-flight = (peak RSS - peak RSS at the lowest m) / (peak in flight - its value \
         there). CPU, memory and in flight are the medians of the runs'.\n",
        codes_phrase(&sweep.country_codes),
        codes_summary(&sweep.country_codes),
        sweep.delay.as_secs_f64(),
        join(&sweep.max_reqs),
        sweep.repetition.describe(),
        sweep.repetition.cpus,
    )
}

/// The sweep's table: one line per row, grouped by model by ascending `m`.
pub(crate) fn sweep_table(sweep: &Sweep) -> Table {
    let header = [
        "model",
        "m",
        "wall",
        "min–max",
        "bound",
        "CPU-aware bound",
        "ratio",
        "CPU/req",
        "server/req",
        "peak RSS",
        "peak PSS",
        "KiB/in-flight",
        "threads",
        "procs",
        "in flight",
        "saved",
        "errors",
    ];
    let mut lines = Vec::new();
    for name in sweep.names() {
        for row in sweep.runs_of(name) {
            lines.push(sweep_line(row, &sweep.stats(row)));
        }
    }
    Table {
        header: header.map(str::to_string).to_vec(),
        lines,
    }
}

/// The sweep's summary: per model, where it leaves the bound and what a
/// request in flight costs.
pub(crate) fn sweep_summary_table(sweep: &Sweep) -> Table {
    Table {
        header: [
            "model",
            "leaves the bound (ratio > 1.5) at m",
            "KiB per request in flight",
            "CPU per request",
            "server CPU per request",
        ]
        .map(str::to_string)
        .to_vec(),
        lines: sweep
            .names()
            .into_iter()
            .map(|name| summary_line(sweep, &sweep.runs_of(name)))
            .collect(),
    }
}

/// The line under the summary on what the rig itself cost.
pub(crate) fn sweep_rig_note(sweep: &Sweep) -> String {
    let sampler: f64 = sweep
        .rows
        .iter()
        .filter_map(Row::sampler_cpu)
        .map(|cpu| cpu.as_secs_f64())
        .sum();
    format!(
        "The rig shares the machine's {} CPUs with each model: the server (server/req above) \
         and the parent's memory sampler ({:.0} ms over the whole sweep).",
        sweep.repetition.cpus,
        sampler * 1e3
    )
}

/// The notes under a sweep's tables: each run that failed or saved
/// something wrong, then the sweep's notes.
pub(crate) fn sweep_notes(sweep: &Sweep) -> Vec<String> {
    let mut notes = Vec::new();
    for row in &sweep.rows {
        notes.extend(row_problems(
            row,
            &format!("{} (m = {})", row.label, row.max_req),
        ));
    }
    notes.extend(sweep.notes.iter().cloned());
    notes
}

/// The sweep's tables, as printed: the heading, one line per row, grouped
/// by model by ascending `m`; then, per model, where it leaves the bound
/// and what a request in flight costs; then notes.
pub fn render_sweep_table(sweep: &Sweep) -> String {
    let mut text = sweep_heading(sweep);
    text.push('\n');
    text.push_str(&sweep_table(sweep).to_text());
    text.push_str(
        "\nPer model, over the runs above (KiB per request in flight: at the highest m whose \
         peak in flight reached 90% of m):\n\n",
    );
    text.push_str(&sweep_summary_table(sweep).to_text());
    text.push_str(&format!("\n{}\n", sweep_rig_note(sweep)));
    for note in sweep_notes(sweep) {
        text.push_str(&format!("\n{note}"));
    }
    if !sweep_notes(sweep).is_empty() {
        text.push('\n');
    }
    text
}

/// The first cells of a row in either table: model, m, median wall (or
/// FAILED) and bound.
fn run_cells(row: &Row) -> [String; 4] {
    [
        row.label.clone(),
        row.max_req.to_string(),
        row.median_wall()
            .map_or_else(|| "FAILED".to_string(), seconds),
        seconds(row.bound),
    ]
}

/// One row's cells in the sweep's table.
fn sweep_line(row: &Row, stats: &SweepStats) -> Vec<String> {
    let [label, max_req, wall, bound] = run_cells(row);
    vec![
        label,
        max_req,
        wall,
        spread_cell(stats.wall, row.ran().count()),
        bound,
        stats.cpu_bound.map_or_else(|| "-".to_string(), seconds),
        stats
            .ratio
            .map_or_else(|| "-".to_string(), |ratio| format!("{ratio:.2}")),
        micros(stats.cpu_us_per_request),
        micros(stats.server_us_per_request),
        stats
            .peak_rss_kib
            .map_or_else(|| "-".to_string(), mebibytes),
        stats
            .peak_pss_kib
            .map_or_else(|| "-".to_string(), mebibytes),
        stats
            .rss_kib_per_in_flight
            .map_or_else(|| "-".to_string(), |kib| format!("{kib:.0}")),
        row.peak_threads().to_string(),
        row.processes().to_string(),
        row.peak_in_flight().to_string(),
        row.saved().to_string(),
        row.errors().to_string(),
    ]
}

/// A model's summary over its rows: the first `m` whose ratio is over 1.5,
/// the memory slope at its top `m`, and the range of its CPU per request.
fn summary_line(sweep: &Sweep, runs: &[&Row]) -> Vec<String> {
    let stats: Vec<SweepStats> = runs.iter().map(|row| sweep.stats(row)).collect();
    let leaves = runs
        .iter()
        .zip(&stats)
        .find(|(_, stats)| stats.ratio.is_some_and(|ratio| ratio > 1.5))
        .map_or_else(
            || "not in this sweep".to_string(),
            |(row, _)| row.max_req.to_string(),
        );
    let slope = runs
        .first()
        .and_then(|row| sweep.rss_slope_of(&row.name))
        .map_or_else(
            || "-".to_string(),
            |(m, kib)| format!("{kib:.0} KiB (m = {m})"),
        );
    let range = |values: Vec<f64>| {
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if values.is_empty() {
            "-".to_string()
        } else {
            format!("{low:.0} to {high:.0} µs")
        }
    };
    vec![
        runs.first()
            .map_or_else(String::new, |row| row.label.clone()),
        leaves,
        slope,
        range(stats.iter().filter_map(|s| s.cpu_us_per_request).collect()),
        range(
            stats
                .iter()
                .filter_map(|s| s.server_us_per_request)
                .collect(),
        ),
    ]
}
