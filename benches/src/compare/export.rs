//! `--json PATH` and `--csv PATH`: every run, machine-readable.
//!
//! The JSON follows hyperfine's `--export-json` in spirit: one document
//! with a `results` array, one object per run, whose fields are plain
//! numbers in base units (seconds, bytes); beside it the machine and the
//! workloads. A run of the default command has two parts, `compare` (the
//! side-by-side comparison) and `sweep` (the short sweep after it); each
//! run says which, and carries its workload's code count and delay too, so
//! that an object read alone is complete. A figure that was not measured
//! (a failed run, no `/proc`) is `null`.
//!
//! The CSV has the same fields as the JSON's run objects, one line each.

use std::time::SystemTime;

use serde::Serialize;

use super::comparison::{Comparison, Row};
use super::sweep::Sweep;
use super::utc_date;

/// The whole document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `flags-compare` and its version.
    pub tool: String,
    /// Where it ran.
    pub machine: Machine,
    /// The work of each part.
    pub workloads: Vec<Workload>,
    /// One object per run, in the order they ran.
    pub results: Vec<RunRecord>,
}

/// The machine the runs were made on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs this process may use.
    pub cpus: usize,
    /// `linux`, `macos`...
    pub os: String,
    /// `x86_64`, `aarch64`...
    pub arch: String,
    /// The kernel release, from `/proc/sys/kernel/osrelease`.
    pub kernel: Option<String>,
    /// The UTC date, `YYYY-MM-DD`.
    pub date: String,
    /// Seconds since 1970-01-01 UTC, when the report was made.
    pub unix_time: u64,
    /// The 1, 5 and 15 minute load averages at the end, from
    /// `/proc/loadavg`: how busy the machine was with other work.
    pub load_average: Option<[f64; 3]>,
}

/// The work of one part.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    /// `compare` or `sweep`.
    pub part: String,
    /// The codes, in order.
    pub codes: Vec<String>,
    /// How many.
    pub code_count: usize,
    /// The server's delay before each answer.
    pub delay_s: f64,
    /// The `m` asked: the comparison's `-m`, or the sweep's list.
    pub m_asked: Vec<usize>,
}

impl Workload {
    /// The workload of one part of a run: its codes, its delay and the
    /// `m` asked.
    fn new(
        part: &str,
        codes: &[String],
        delay: std::time::Duration,
        m_asked: Vec<usize>,
    ) -> Workload {
        Workload {
            part: part.to_string(),
            codes: codes.to_vec(),
            code_count: codes.len(),
            delay_s: delay.as_secs_f64(),
            m_asked,
        }
    }
}

/// One run.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// `compare` or `sweep`.
    pub part: String,
    /// The short name (`threadpool`, `curl`...).
    pub model: String,
    /// The name in the tables.
    pub label: String,
    /// The concurrency it used: min(m asked, its maximum, the codes).
    pub m: usize,
    /// How many codes.
    pub codes: usize,
    /// The server's delay.
    pub delay_s: f64,
    /// Spawn to exit.
    pub wall_s: f64,
    /// `ceil(codes / m) x delay`.
    pub bound_s: f64,
    /// `wall_s / bound_s`.
    pub ratio: Option<f64>,
    /// User + system of the model's processes (`wait4`).
    pub cpu_s: Option<f64>,
    /// User part.
    pub user_s: Option<f64>,
    /// System part.
    pub system_s: Option<f64>,
    /// The in-process server's threads, over the same run.
    pub server_cpu_s: Option<f64>,
    /// The parent's memory sampler, over the same run.
    pub sampler_cpu_s: Option<f64>,
    /// Peak RSS, summed over the model's processes.
    pub peak_rss_bytes: Option<u64>,
    /// Peak PSS (proportional set size: shared pages split among the
    /// processes that map them), summed over the model's processes in one
    /// sample.
    pub peak_pss_bytes: Option<u64>,
    /// Sweep only: (RSS - RSS at the model's lowest m) / (in flight - in
    /// flight there), in KiB.
    pub rss_kib_per_in_flight: Option<f64>,
    /// The most threads at once over its processes (sampled).
    pub peak_threads: usize,
    /// The most processes at once (sampled).
    pub peak_processes: usize,
    /// The most requests the server had in flight at once.
    pub peak_in_flight: u64,
    /// Requests the server received.
    pub requests: u64,
    /// Flags saved identical to the server's.
    pub saved: usize,
    /// Codes that ended in error.
    pub errors: usize,
    /// It ran and saved exactly what it should have.
    pub ok: bool,
    /// Why it did not run to the end, if it did not.
    pub failure: Option<String>,
}

/// A run's record.
fn record(part: &str, row: &Row, code_count: usize, delay_s: f64, slope: Option<f64>) -> RunRecord {
    let seconds = |d: std::time::Duration| d.as_secs_f64();
    RunRecord {
        part: part.to_string(),
        model: row.name.clone(),
        label: row.label.clone(),
        m: row.max_req,
        codes: code_count,
        delay_s,
        wall_s: seconds(row.wall),
        bound_s: seconds(row.bound),
        ratio: row.ratio(),
        cpu_s: row.cpu.map(|cpu| seconds(cpu.total())),
        user_s: row.cpu.map(|cpu| seconds(cpu.user)),
        system_s: row.cpu.map(|cpu| seconds(cpu.system)),
        server_cpu_s: row.server_cpu.map(seconds),
        sampler_cpu_s: row.sampler_cpu.map(seconds),
        peak_rss_bytes: row.peak_rss_kib.map(|kib| kib * 1024),
        peak_pss_bytes: row.peak_pss_kib.map(|kib| kib * 1024),
        rss_kib_per_in_flight: slope,
        peak_threads: row.peak_threads,
        peak_processes: row.processes,
        peak_in_flight: row.peak_in_flight,
        requests: row.requests,
        saved: row.saved,
        errors: row.errors,
        ok: row.is_ok(),
        failure: row.failure.clone(),
    }
}

/// The report of a run of `flags-compare`: its comparison, its sweep, or
/// both.
pub fn report(comparison: Option<&Comparison>, sweep: Option<&Sweep>) -> Report {
    let mut workloads = Vec::new();
    let mut results = Vec::new();
    if let Some(comparison) = comparison {
        let workload = Workload::new(
            "compare",
            &comparison.country_codes,
            comparison.delay,
            vec![comparison.max_req],
        );
        let (count, delay_s) = (workload.code_count, workload.delay_s);
        workloads.push(workload);
        results.extend(
            comparison
                .rows
                .iter()
                .map(|row| record("compare", row, count, delay_s, None)),
        );
    }
    if let Some(sweep) = sweep {
        let workload = Workload::new(
            "sweep",
            &sweep.country_codes,
            sweep.delay,
            sweep.max_reqs.clone(),
        );
        let (count, delay_s) = (workload.code_count, workload.delay_s);
        workloads.push(workload);
        results.extend(sweep.rows.iter().map(|row| {
            let slope = sweep.stats(row).rss_kib_per_in_flight;
            record("sweep", row, count, delay_s, slope)
        }));
    }
    Report {
        tool: format!("flags-compare {}", env!("CARGO_PKG_VERSION")),
        machine: machine(),
        workloads,
        results,
    }
}

/// The machine, now.
pub fn machine() -> Machine {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| {
            let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
            Some([fields.next()??, fields.next()??, fields.next()??])
        });
    Machine {
        cpus: std::thread::available_parallelism().map_or(0, usize::from),
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|release| release.trim().to_string()),
        date: utc_date(since_epoch),
        unix_time: since_epoch.as_secs(),
        load_average,
    }
}

/// The report as pretty JSON.
pub fn to_json(report: &Report) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report).map(|json| json + "\n")
}

/// The CSV's columns, in order.
pub const CSV_COLUMNS: [&str; 26] = [
    "part",
    "model",
    "label",
    "m",
    "codes",
    "delay_s",
    "wall_s",
    "bound_s",
    "ratio",
    "cpu_s",
    "user_s",
    "system_s",
    "server_cpu_s",
    "sampler_cpu_s",
    "peak_rss_bytes",
    "peak_pss_bytes",
    "rss_kib_per_in_flight",
    "peak_threads",
    "peak_processes",
    "peak_in_flight",
    "requests",
    "saved",
    "errors",
    "ok",
    "failure",
    "date",
];

/// The report's runs as CSV: a header, then one line per run, fields as in
/// the JSON (an empty field for `null`), quoted when they must be.
pub fn to_csv(report: &Report) -> Result<String, serde_json::Error> {
    let mut csv = CSV_COLUMNS.join(",") + "\n";
    for run in &report.results {
        let value = serde_json::to_value(run)?;
        let cells: Vec<String> = CSV_COLUMNS
            .iter()
            .map(|column| match (column, value.get(column)) {
                (&"date", _) => report.machine.date.clone(),
                (_, None | Some(serde_json::Value::Null)) => String::new(),
                (_, Some(serde_json::Value::String(text))) => csv_quote(text),
                (_, Some(other)) => other.to_string(),
            })
            .collect();
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    Ok(csv)
}

/// A CSV field: quoted (with its quotes doubled) when it holds a comma, a
/// quote or a line break.
///
/// ```
/// use flags_benches::compare::export::csv_quote;
/// assert_eq!(csv_quote("async"), "async");
/// assert_eq!(csv_quote("a, \"b\""), "\"a, \"\"b\"\"\"");
/// ```
pub fn csv_quote(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
