//! `--json` and `--csv`: every run, machine-readable.
//!
//! The JSON follows hyperfine's `--export-json` in spirit: one document
//! whose fields are plain numbers in base units (seconds, bytes). It says
//! what it is ([`SCHEMA_VERSION`], the tool, the command line that made it
//! and the one that reproduces it), where it ran (`Machine`), what each
//! part ran (`Workload`: the comparison, `compare`, and the sweep,
//! `sweep`), then:
//!
//! - `rows`: one object per line of a table (`RowRecord`): the median
//!   and min–max of the wall time, the medians of CPU and memory, the
//!   bounds, and, for the comparison, the per-request timeline that the
//!   chart draws;
//! - `results`: one object per measured run (`RunRecord`), every run,
//!   not only the median (warm-up runs are not kept);
//! - `warnings`: the warning lines (a busy machine, a wide spread).
//!
//! Each object says its part and carries its workload's code count and
//! delay too, so that an object read alone is complete. A figure that was
//! not measured (a failed run, no `/proc`) is `null`.
//!
//! The CSV has the fields of the JSON's run objects, one line per run.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::comparison::{Comparison, Repetition, Row, Sample};
use super::sweep::Sweep;
use super::utc_date;

/// The version of the JSON's layout: raised when a field changes meaning
/// or goes away (a new field does not raise it).
pub const SCHEMA_VERSION: u32 = 2;

/// The whole document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub(crate) schema_version: u32,
    /// `flags-compare` and its version.
    pub(crate) tool: String,
    /// The command line that made this, as given, `flags-compare` first.
    pub(crate) command: Vec<String>,
    /// The command that runs the same again from the workspace's root:
    /// `cargo run --release -- ARGS`.
    pub(crate) reproduce: String,
    /// Where it ran.
    pub(crate) machine: Machine,
    /// The work of each part.
    pub(crate) workloads: Vec<Workload>,
    /// One object per line of the tables.
    pub(crate) rows: Vec<RowRecord>,
    /// One object per measured run, in the order they ran, part by part.
    pub(crate) results: Vec<RunRecord>,
    /// The warning lines.
    pub(crate) warnings: Vec<String>,
}

/// The machine the runs were made on.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    /// CPUs this process may use.
    pub(crate) cpus: usize,
    /// The CPU's model name, from `/proc/cpuinfo`.
    pub(crate) cpu_model: Option<String>,
    /// The memory the kernel manages, in bytes (`MemTotal` of
    /// `/proc/meminfo`).
    pub(crate) memory_bytes: Option<u64>,
    /// `linux`, `macos`...
    pub(crate) os: String,
    /// The distribution's name, `PRETTY_NAME` of `/etc/os-release`.
    pub(crate) os_name: Option<String>,
    /// `x86_64`, `aarch64`...
    pub(crate) arch: String,
    /// The kernel release, from `/proc/sys/kernel/osrelease`.
    pub(crate) kernel: Option<String>,
    /// The UTC date, `YYYY-MM-DD`.
    pub(crate) date: String,
    /// Seconds since 1970-01-01 UTC, when the report was made.
    pub(crate) unix_time: u64,
    /// The 1, 5 and 15 minute load averages when the report was made, from
    /// `/proc/loadavg`: how busy the machine was with other work.
    pub(crate) load_average: Option<[f64; 3]>,
}

/// The work of one part.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Workload {
    /// `compare` or `sweep`.
    pub(crate) part: String,
    /// The codes, in order.
    pub(crate) codes: Vec<String>,
    pub(crate) code_count: usize,
    /// How many of them the server has a flag for (the others are 404s).
    pub(crate) flag_count: usize,
    /// The server's delay before each answer.
    pub(crate) delay_s: f64,
    /// The `m` asked: the comparison's `-m`, or the sweep's list.
    pub(crate) m_asked: Vec<usize>,
    /// Measured runs of every row.
    pub(crate) runs: usize,
    /// Rounds run first and thrown away.
    pub(crate) warmup: usize,
    /// The 1-minute load average when the part's runs started.
    pub(crate) load_average_at_start: Option<f64>,
    /// That load average was above the number of CPUs.
    pub(crate) busy: bool,
}

impl Workload {
    /// The workload of one part of a run.
    fn new(
        part: &str,
        codes: &[String],
        delay: Duration,
        m_asked: Vec<usize>,
        repetition: &Repetition,
    ) -> Workload {
        Workload {
            part: part.to_string(),
            codes: codes.to_vec(),
            code_count: codes.len(),
            flag_count: codes
                .iter()
                .filter(|code| flags_server::builtin_flag(code).is_some())
                .count(),
            delay_s: delay.as_secs_f64(),
            m_asked,
            runs: repetition.runs,
            warmup: repetition.warmup,
            load_average_at_start: repetition.load_average,
            busy: super::stats::was_busy(repetition.load_average, repetition.cpus),
        }
    }
}

/// One line of a table: a model at one `m`, summed up over its runs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RowRecord {
    /// `compare` or `sweep`.
    pub(crate) part: String,
    /// The short name (`threadpool`, `curl`...).
    pub(crate) model: String,
    /// The name in the tables.
    pub(crate) label: String,
    /// The concurrency it used: min(m asked, its maximum, the codes).
    pub(crate) m: usize,
    /// How many codes.
    pub(crate) codes: usize,
    pub(crate) delay_s: f64,
    /// Its measured runs that went to the end.
    pub(crate) runs: usize,
    /// Its runs that did not.
    pub(crate) failed_runs: usize,
    /// The median wall time.
    pub(crate) wall_median_s: Option<f64>,
    /// The least wall time.
    pub(crate) wall_min_s: Option<f64>,
    /// The most wall time.
    pub(crate) wall_max_s: Option<f64>,
    /// `wall_max_s / wall_min_s`.
    pub(crate) wall_spread: Option<f64>,
    /// `ceil(codes / m) x delay`.
    pub(crate) bound_s: f64,
    /// `wall_median_s / bound_s`.
    pub(crate) ratio: Option<f64>,
    /// `bound_s + (cpu_median_s + server_cpu_median_s) / cpus`.
    pub(crate) cpu_bound_s: Option<f64>,
    /// The median of the runs' user + system time.
    pub(crate) cpu_median_s: Option<f64>,
    /// The least of the runs' user + system time.
    pub(crate) cpu_min_s: Option<f64>,
    /// The most of the runs' user + system time.
    pub(crate) cpu_max_s: Option<f64>,
    /// The median of the runs' server CPU time.
    pub(crate) server_cpu_median_s: Option<f64>,
    /// The median of the runs' peak RSS.
    pub(crate) peak_rss_median_bytes: Option<u64>,
    /// The median of the runs' peak PSS.
    pub(crate) peak_pss_median_bytes: Option<u64>,
    /// Sweep only: (RSS - RSS at the model's lowest m) / (in flight - in
    /// flight there), in KiB, from the medians.
    pub(crate) rss_kib_per_in_flight: Option<f64>,
    /// The most requests in flight over its runs.
    pub(crate) peak_in_flight: u64,
    /// The fewest flags a run saved.
    pub(crate) saved: usize,
    /// The most errors a run had.
    pub(crate) errors: usize,
    /// Every run went to the end and saved exactly what it should have.
    pub(crate) ok: bool,
    /// The run the chart draws (the median one), as its `run` in
    /// `results`; comparison only.
    pub(crate) timeline_run: Option<usize>,
    /// Each request of that run, `[arrived, finished]` in seconds since
    /// its process was spawned, in the order the server logged them;
    /// comparison only.
    pub(crate) timeline: Option<Vec<[f64; 2]>>,
}

/// One run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunRecord {
    /// `compare` or `sweep`.
    pub(crate) part: String,
    /// The short name (`threadpool`, `curl`...).
    pub(crate) model: String,
    /// The name in the tables.
    pub(crate) label: String,
    /// The concurrency it used: min(m asked, its maximum, the codes).
    pub(crate) m: usize,
    /// Which run of its row, from 1.
    pub(crate) run: usize,
    /// Its place among every run of its part, warm-ups included, from 1.
    pub(crate) order: usize,
    /// How many codes.
    pub(crate) codes: usize,
    pub(crate) delay_s: f64,
    /// Spawn to exit.
    pub(crate) wall_s: f64,
    /// `ceil(codes / m) x delay`.
    pub(crate) bound_s: f64,
    /// `wall_s / bound_s`.
    pub(crate) ratio: Option<f64>,
    /// User + system of the model's processes (`wait4`).
    pub(crate) cpu_s: Option<f64>,
    /// User part.
    pub(crate) user_s: Option<f64>,
    /// System part.
    pub(crate) system_s: Option<f64>,
    /// The in-process server's threads, over the same run.
    pub(crate) server_cpu_s: Option<f64>,
    /// The parent's memory sampler, over the same run.
    pub(crate) sampler_cpu_s: Option<f64>,
    /// Peak RSS, summed over the model's processes.
    pub(crate) peak_rss_bytes: Option<u64>,
    /// Peak PSS (proportional set size: shared pages split among the
    /// processes that map them), summed over the model's processes in one
    /// sample.
    pub(crate) peak_pss_bytes: Option<u64>,
    /// The most threads at once over its processes (sampled).
    pub(crate) peak_threads: usize,
    /// The most processes at once (sampled).
    pub(crate) peak_processes: usize,
    /// The most requests the server had in flight at once.
    pub(crate) peak_in_flight: u64,
    /// Requests the server received.
    pub(crate) requests: u64,
    /// Flags saved identical to the server's.
    pub(crate) saved: usize,
    /// Codes that ended in error.
    pub(crate) errors: usize,
    /// It ran and saved exactly what it should have.
    pub(crate) ok: bool,
    /// Why it did not run to the end, if it did not.
    pub(crate) failure: Option<String>,
}

/// What every record of a part shares.
struct Part<'a> {
    name: &'a str,
    code_count: usize,
    delay_s: f64,
    cpus: usize,
}

/// A run's record.
fn run_record(part: &Part<'_>, row: &Row, sample: &Sample) -> RunRecord {
    let seconds = |d: Duration| d.as_secs_f64();
    RunRecord {
        part: part.name.to_string(),
        model: row.name.clone(),
        label: row.label.clone(),
        m: row.max_req,
        run: sample.round,
        order: sample.order,
        codes: part.code_count,
        delay_s: part.delay_s,
        wall_s: seconds(sample.wall),
        bound_s: seconds(row.bound),
        ratio: (sample.ran() && !row.bound.is_zero())
            .then(|| seconds(sample.wall) / seconds(row.bound)),
        cpu_s: sample.cpu.map(|cpu| seconds(cpu.total())),
        user_s: sample.cpu.map(|cpu| seconds(cpu.user)),
        system_s: sample.cpu.map(|cpu| seconds(cpu.system)),
        server_cpu_s: sample.server_cpu.map(seconds),
        sampler_cpu_s: sample.sampler_cpu.map(seconds),
        peak_rss_bytes: sample.peak_rss_kib.map(|kib| kib * 1024),
        peak_pss_bytes: sample.peak_pss_kib.map(|kib| kib * 1024),
        peak_threads: sample.peak_threads,
        peak_processes: sample.processes,
        peak_in_flight: sample.peak_in_flight,
        requests: sample.requests,
        saved: sample.saved,
        errors: sample.errors,
        ok: sample.is_ok(),
        failure: sample.failure.clone(),
    }
}

/// The records of every run of `rows`, in the order they ran.
fn part_runs(part: &Part<'_>, rows: &[Row]) -> Vec<RunRecord> {
    let mut runs: Vec<RunRecord> = rows
        .iter()
        .flat_map(|row| row.samples.iter().map(move |sample| (row, sample)))
        .map(|(row, sample)| run_record(part, row, sample))
        .collect();
    runs.sort_by_key(|run| run.order);
    runs
}

/// A row's record; its timeline when `with_timeline`.
fn row_record(part: &Part<'_>, row: &Row, slope: Option<f64>, with_timeline: bool) -> RowRecord {
    let wall = row.wall();
    let charted = row.charted().filter(|_| with_timeline);
    RowRecord {
        part: part.name.to_string(),
        model: row.name.clone(),
        label: row.label.clone(),
        m: row.max_req,
        codes: part.code_count,
        delay_s: part.delay_s,
        runs: row.ran().count(),
        failed_runs: row.failed_runs(),
        wall_median_s: wall.map(|w| w.median),
        wall_min_s: wall.map(|w| w.min),
        wall_max_s: wall.map(|w| w.max),
        wall_spread: wall.map(|w| w.width()),
        bound_s: row.bound.as_secs_f64(),
        ratio: row.ratio(),
        cpu_bound_s: row.cpu_bound(part.cpus).map(|d| d.as_secs_f64()),
        cpu_median_s: row.cpu().map(|d| d.as_secs_f64()),
        cpu_min_s: row.cpu_spread().map(|cpu| cpu.min),
        cpu_max_s: row.cpu_spread().map(|cpu| cpu.max),
        server_cpu_median_s: row.server_cpu().map(|d| d.as_secs_f64()),
        peak_rss_median_bytes: row.peak_rss_kib().map(|kib| kib * 1024),
        peak_pss_median_bytes: row.peak_pss_kib().map(|kib| kib * 1024),
        rss_kib_per_in_flight: slope,
        peak_in_flight: row.peak_in_flight(),
        saved: row.saved(),
        errors: row.errors(),
        ok: row.is_ok(),
        timeline_run: charted.map(|sample| sample.round),
        timeline: charted.map(|sample| {
            sample
                .timeline
                .iter()
                .map(|&(start, end)| [start, end])
                .collect()
        }),
    }
}

/// The report of a run of `flags-compare`: its comparison, its sweep, or
/// both, made by `command` (`flags-compare` first).
pub fn report(
    command: &[String],
    comparison: Option<&Comparison>,
    sweep: Option<&Sweep>,
) -> Report {
    let mut workloads = Vec::new();
    let mut rows = Vec::new();
    let mut results = Vec::new();
    let mut warnings = Vec::new();
    if let Some(comparison) = comparison {
        let workload = Workload::new(
            "compare",
            &comparison.country_codes,
            comparison.delay,
            vec![comparison.max_req],
            &comparison.repetition,
        );
        let part = Part {
            name: "compare",
            code_count: workload.code_count,
            delay_s: workload.delay_s,
            cpus: comparison.repetition.cpus,
        };
        workloads.push(workload);
        rows.extend(
            comparison
                .rows
                .iter()
                .map(|row| row_record(&part, row, None, true)),
        );
        results.extend(part_runs(&part, &comparison.rows));
        warnings.extend(comparison.warnings());
    }
    if let Some(sweep) = sweep {
        let workload = Workload::new(
            "sweep",
            &sweep.country_codes,
            sweep.delay,
            sweep.max_reqs.clone(),
            &sweep.repetition,
        );
        let part = Part {
            name: "sweep",
            code_count: workload.code_count,
            delay_s: workload.delay_s,
            cpus: sweep.repetition.cpus,
        };
        workloads.push(workload);
        for row in &sweep.rows {
            let slope = sweep.stats(row).rss_kib_per_in_flight;
            rows.push(row_record(&part, row, slope, false));
        }
        results.extend(part_runs(&part, &sweep.rows));
        warnings.extend(sweep.warnings());
    }
    Report {
        schema_version: SCHEMA_VERSION,
        tool: format!("flags-compare {}", env!("CARGO_PKG_VERSION")),
        command: command.to_vec(),
        reproduce: reproduce_command(command),
        machine: machine(),
        workloads,
        rows,
        results,
        warnings,
    }
}

/// The command that runs `command` again from the workspace's root, its
/// arguments quoted for a POSIX shell where they must be.
pub(crate) fn reproduce_command(command: &[String]) -> String {
    let args: Vec<String> = command.iter().skip(1).map(|arg| shell_quote(arg)).collect();
    if args.is_empty() {
        "cargo run --release".to_string()
    } else {
        format!("cargo run --release -- {}", args.join(" "))
    }
}

/// An argument for a POSIX shell: as it is when it holds only characters
/// no shell treats specially, otherwise in single quotes.
pub(crate) fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./,=:+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The machine, now.
pub(crate) fn machine() -> Machine {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| {
            let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
            Some([fields.next()??, fields.next()??, fields.next()??])
        });
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    Machine {
        cpus: std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model: cpuinfo
            .lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map(|(_, name)| name.trim().to_string()),
        memory_bytes: flags_core::limits::proc_status_field(&meminfo, "MemTotal:")
            .map(|kib| kib * 1024),
        os: std::env::consts::OS.to_string(),
        os_name: os_release
            .lines()
            .find_map(|line| line.strip_prefix("PRETTY_NAME="))
            .map(|name| name.trim_matches('"').to_string()),
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
pub const CSV_COLUMNS: [&str; 27] = [
    "part",
    "model",
    "label",
    "m",
    "run",
    "order",
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
/// the JSON's `results` (an empty field for `null`), quoted when they must
/// be, and the date.
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
pub(crate) fn csv_quote(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reproduce_command_examples() {
        use crate::compare::export::reproduce_command;
        let command = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(
            reproduce_command(&command(&["flags-compare"])),
            "cargo run --release"
        );
        assert_eq!(
            reproduce_command(&command(&[
                "flags-compare",
                "--runs",
                "5",
                "--out",
                "my chart.svg"
            ])),
            "cargo run --release -- --runs 5 --out 'my chart.svg'"
        );
    }

    #[test]
    fn shell_quote_examples() {
        use crate::compare::export::shell_quote;
        assert_eq!(shell_quote("--delay"), "--delay");
        assert_eq!(shell_quote("seq,async"), "seq,async");
        assert_eq!(shell_quote("it's"), r#"'it'\''s'"#);
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn csv_quote_examples() {
        use crate::compare::export::csv_quote;
        assert_eq!(csv_quote("async"), "async");
        assert_eq!(csv_quote("a, \"b\""), "\"a, \"\"b\"\"\"");
    }
}
