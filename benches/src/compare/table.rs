//! The tables `flags-compare` prints on stdout. The comparison's: a line
//! on the workload, one line per row (wall time, the bound, their ratio,
//! the speedup over seq, peak memory, peak concurrency, flags saved,
//! errors), then notes. The sweep's ([`render_sweep_table`]): one line per
//! model and `m`, with CPU and memory per request.
//!
//! Their shape is part of the interface: the tests read them cell by cell.

use super::comparison::{Comparison, Row};
use super::sweep::{Sweep, SweepStats, join};

/// A memory size for the table: `12.3 MiB`.
fn mebibytes(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The table of a comparison, as printed on stdout: a header line on the
/// workload, one line per row, and notes.
pub fn render_table(comparison: &Comparison) -> String {
    let code_count = comparison.country_codes.len();
    let delay = comparison.delay.as_secs_f64();
    let mut text = format!(
        "{code_count} flags ({}), server delay {delay} s, -m {}\n\
         bound = ceil(N / m) x delay: the least time m requests at a time can take \
         (N x delay for seq)\n\n",
        codes_summary(&comparison.country_codes),
        comparison.max_req
    );
    let header = [
        "model",
        "m",
        "wall",
        "bound",
        "ratio",
        "speedup",
        "peak RSS",
        "peak in flight",
        "saved",
        "errors",
    ];
    let seq_wall = comparison.seq_wall();
    let mut lines: Vec<[String; 10]> = Vec::new();
    for row in &comparison.rows {
        let failed = row.failure.is_some();
        let ratio = if row.bound.is_zero() || failed {
            "-".to_string()
        } else {
            format!("{:.2}", row.wall.as_secs_f64() / row.bound.as_secs_f64())
        };
        let speedup = match seq_wall {
            Some(seq) if !failed && !row.wall.is_zero() => {
                format!("{:.1}x", seq.as_secs_f64() / row.wall.as_secs_f64())
            }
            _ => "-".to_string(),
        };
        let rss = match row.peak_rss_kib {
            Some(kib) if row.processes > 1 => format!("{} ({}p)", mebibytes(kib), row.processes),
            Some(kib) => mebibytes(kib),
            None => "-".to_string(),
        };
        let [label, max_req, wall, bound] = run_cells(row);
        lines.push([
            label,
            max_req,
            wall,
            bound,
            ratio,
            speedup,
            rss,
            row.peak_in_flight.to_string(),
            row.saved.to_string(),
            row.errors.to_string(),
        ]);
    }
    text.push_str(&columns(&header, &lines));
    if comparison.rows.iter().any(|row| row.processes > 1) {
        text.push_str("\n(Np): N processes at once; peak RSS is the sum of their peaks.\n");
    }
    for row in &comparison.rows {
        if let Some(failure) = &row.failure {
            text.push_str(&format!("\n{} failed: {failure}\n", row.label));
        }
        for problem in row.problems.iter().take(10) {
            text.push_str(&format!("{}: {problem}\n", row.label));
        }
        if row.problems.len() > 10 {
            text.push_str(&format!(
                "{}: and {} more problems\n",
                row.label,
                row.problems.len() - 10
            ));
        }
    }
    for note in &comparison.notes {
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

/// Columns: the first left-aligned, the others right-aligned, each as wide
/// as its widest cell, two spaces apart; a rule under the header.
fn columns<const N: usize>(header: &[&str; N], lines: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for line in lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let format_line = |cells: &[String]| {
        let mut line = String::new();
        for (column, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if column == 0 {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(&format!("  {cell:>width$}"));
            }
        }
        line.trim_end().to_string() + "\n"
    };
    let mut text = format_line(&header.map(str::to_string));
    let rule_width = widths.iter().sum::<usize>() + 2 * (N - 1);
    text.push_str(&"-".repeat(rule_width));
    text.push('\n');
    for line in lines {
        text.push_str(&format_line(line));
    }
    text
}

/// A number of microseconds, or `-`.
fn micros(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |us| format!("{us:.0} µs"))
}

/// The sweep's table: a line on the workload, one line per run, grouped by
/// model by ascending `m`; then, per model, where it leaves the bound and
/// what a request in flight costs; then notes.
pub fn render_sweep_table(sweep: &Sweep) -> String {
    let code_count = sweep.country_codes.len();
    let mut text = format!(
        "Sweep: {code_count} flags ({}), server delay {} s, m = {}\n\
         ratio = wall / (ceil(N / m) x delay); CPU/req = user + system of the model's processes \
         (wait4) / N; server/req = the in-process server's threads, same run; \
         peak PSS = peak RSS with each page shared between processes split among them; \
         KiB/in-flight = (peak RSS - peak RSS at the lowest m) / (peak in flight - its value \
         there)\n\n",
        codes_summary(&sweep.country_codes),
        sweep.delay.as_secs_f64(),
        join(&sweep.max_reqs),
    );
    let header = [
        "model",
        "m",
        "wall",
        "bound",
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
    let mut lines: Vec<[String; 15]> = Vec::new();
    let mut summary: Vec<[String; 5]> = Vec::new();
    for name in sweep.names() {
        let runs = sweep.runs_of(name);
        for row in &runs {
            let stats = sweep.stats(row);
            lines.push(sweep_line(row, &stats));
        }
        summary.push(summary_line(sweep, &runs));
    }
    text.push_str(&columns(&header, &lines));
    text.push_str(
        "\nPer model, over the runs above (KiB per request in flight: at the highest m whose \
         peak in flight reached 90% of m):\n\n",
    );
    text.push_str(&columns(
        &[
            "model",
            "leaves the bound (ratio > 1.5) at m",
            "KiB per request in flight",
            "CPU per request",
            "server CPU per request",
        ],
        &summary,
    ));
    let sampler: f64 = sweep
        .rows
        .iter()
        .filter_map(|row| row.sampler_cpu)
        .map(|cpu| cpu.as_secs_f64())
        .sum();
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    text.push_str(&format!(
        "\nThe rig shares the machine's {cpus} CPUs with each model: the server (server/req \
         above) and the parent's memory sampler ({:.0} ms over the whole sweep).\n",
        sampler * 1e3
    ));
    for row in &sweep.rows {
        if let Some(failure) = &row.failure {
            text.push_str(&format!(
                "\n{} (m = {}) failed: {failure}\n",
                row.label, row.max_req
            ));
        }
        for problem in row.problems.iter().take(3) {
            text.push_str(&format!("{} (m = {}): {problem}\n", row.label, row.max_req));
        }
    }
    for note in &sweep.notes {
        text.push_str(&format!("\n{note}"));
    }
    if !sweep.notes.is_empty() {
        text.push('\n');
    }
    text
}

/// The first cells of a run in either table: model, m, wall (or FAILED)
/// and bound.
fn run_cells(row: &Row) -> [String; 4] {
    [
        row.label.clone(),
        row.max_req.to_string(),
        if row.failure.is_some() {
            "FAILED".to_string()
        } else {
            format!("{:.3} s", row.wall.as_secs_f64())
        },
        format!("{:.3} s", row.bound.as_secs_f64()),
    ]
}

/// One run's cells.
fn sweep_line(row: &Row, stats: &SweepStats) -> [String; 15] {
    let [label, max_req, wall, bound] = run_cells(row);
    [
        label,
        max_req,
        wall,
        bound,
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
        row.peak_threads.to_string(),
        row.processes.to_string(),
        row.peak_in_flight.to_string(),
        row.saved.to_string(),
        row.errors.to_string(),
    ]
}

/// A model's summary over its runs: the first `m` whose ratio is over 1.5,
/// the memory slope at its top `m`, and the range of its CPU per request.
fn summary_line(sweep: &Sweep, runs: &[&Row]) -> [String; 5] {
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
    [
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
