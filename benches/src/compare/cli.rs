//! The command line of `flags-compare`: its options, their defaults, and
//! how a usage error is reported.
//!
//! [`parse_args`] turns `argv` into [`CompareOptions`], the plain data the
//! run loops ([`super::run`], [`super::sweep`]) work from: codes expanded
//! and sorted as the models do it, models deduplicated in the order given,
//! and the sweep to run ([`SweepOptions`]) with its defaults resolved.
//! Every usage error is a [`clap::Error`] with exit status 2, like the
//! model binaries'.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{CommandFactory, Parser, value_parser};
use flags_core::codes::{CodeSelection, expand_cc_args};

use crate::models::{DEFAULT_VARIANTS, Variant, variant_by_name, variant_names};

/// How many codes of the `-a` list are used when none is given.
pub const DEFAULT_CODE_COUNT: usize = 40;
/// The default `--delay`, in seconds.
pub const DEFAULT_DELAY: &str = "0.1";
/// The comparison's default `--runs`.
pub const DEFAULT_RUNS: usize = 3;
/// The comparison's default `--warmup`.
pub const DEFAULT_WARMUP: usize = 1;
/// The sweep's default `--runs` (the short one and `--sweep`): one run per
/// point, said so in its table.
pub(crate) const SWEEP_RUNS: usize = 1;
/// The sweep's default `--warmup`.
pub(crate) const SWEEP_WARMUP: usize = 0;
/// The default `-m`.
pub const DEFAULT_MAX_REQ: usize = 10;
/// The default `--out`.
pub const DEFAULT_OUT: &str = "flags-compare.svg";
/// The default `--delay` of `--sweep`, in seconds.
pub(crate) const SWEEP_DELAY: Duration = Duration::from_millis(20);
/// The `m` of `--sweep`: about three per decade, up to every code at once.
pub(crate) const SWEEP_M: [usize; 7] = [1, 3, 10, 30, 100, 300, 676];
/// The delay of the short sweep that ends the default run.
pub(crate) const SHORT_SWEEP_DELAY: Duration = Duration::from_millis(5);
/// The `m` of the short sweep that ends the default run.
pub(crate) const SHORT_SWEEP_M: [usize; 4] = [1, 10, 100, 676];
/// The sweep's chart when neither `--sweep-out` nor `--out` says where.
pub(crate) const DEFAULT_SWEEP_OUT: &str = "flags-compare-sweep.svg";

/// The command line of `flags-compare`.
#[derive(Debug, Parser)]
#[command(
    name = "flags-compare",
    about = "Run every concurrency model on the same flags, against an in-process flag server, \
             and compare them: a table on stdout and an SVG chart; then a short sweep over m.",
    after_help = "With no CC, -a or -e: the first 40 codes of the -a list (--sweep: all 676 of -e). \
                  Each model runs in a child process of its own, so its peak memory and CPU time \
                  are its own. The comparison runs every model 3 times, interleaved (A, B, C, A, \
                  B, C...), after 1 warm-up round, and shows the median and min-max; the sweep \
                  runs each point once unless --runs is given.\n\
                  The default run ends with a short sweep (m = 1, 10, 100, 676 on the 676 codes of \
                  -e, 0.005 s delay; on the comparison's codes and delay when CC, -a, -e or -l is \
                  given), whose chart goes to --sweep-out (default: next to --out, NAME-sweep.svg). \
                  --sweep runs the full sweep alone (m = 1, 3, 10, 30, 100, 300, 676; delay \
                  0.02 s; the concurrent models: threadpool, rayon, threads, async, process)."
)]
struct CompareArgs {
    /// Country code, or one letter for all its codes (B = BA..BZ)
    #[arg(value_name = "CC")]
    cc: Vec<String>,
    /// All 194 available flags (AD to ZW)
    #[arg(short, long)]
    all: bool,
    /// Every possible code AA..ZZ (676)
    #[arg(short, long)]
    every: bool,
    /// Only the first N codes (after sorting)
    #[arg(short, long, value_name = "N", value_parser = value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Maximum concurrent requests, the same for every model (not with --sweep)
    #[arg(short = 'm', long, value_name = "N", conflicts_with = "sweep",
          value_parser = value_parser!(u64).range(1..=1000))]
    max_req: Option<u64>,
    /// The server's delay before each answer, in seconds [default: 0.1; --sweep: 0.02]
    #[arg(long, value_name = "SECS", value_parser = parse_delay)]
    delay: Option<Duration>,
    /// The models to run, comma-separated, in this order (also
    /// threadpool-reqwest: the std pool on reqwest::blocking; process-spawn:
    /// the process pool with every worker spawned, no fork server)
    /// [default: seq,threadpool,rayon,threads,async,process; --sweep: the same without seq]
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_variant)]
    models: Option<Vec<&'static Variant>>,
    /// Where to write the SVG chart [default: flags-compare.svg]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Add a row for `curl --parallel` on the same URLs (when curl is installed)
    #[arg(long)]
    peer_curl: bool,
    /// Run only the sweep: every model at each m of --sweep-m, on the same work
    #[arg(long)]
    sweep: bool,
    /// The concurrencies of the sweep, comma-separated (each model caps them
    /// at its maximum and at the number of codes)
    #[arg(long, value_name = "LIST", value_delimiter = ',', conflicts_with = "no_sweep",
          value_parser = value_parser!(u64).range(1..=1000))]
    sweep_m: Option<Vec<u64>>,
    /// Where to write the sweep's SVG chart
    #[arg(long, value_name = "PATH", conflicts_with = "no_sweep")]
    sweep_out: Option<PathBuf>,
    /// Do not end the default run with the short sweep
    #[arg(long, conflicts_with = "sweep")]
    no_sweep: bool,
    /// Measured runs of every row, interleaved [default: 3; the sweep: 1]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..=1000))]
    runs: Option<u64>,
    /// Rounds of every row run first and thrown away [default: 1; the sweep: 0]
    #[arg(long, value_name = "K", value_parser = value_parser!(u64).range(0..=100))]
    warmup: Option<u64>,
    /// Also write every run as JSON to PATH, or to stdout with `-` (every
    /// run, each row's summary, the workload, the machine, the command)
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Also write every run as CSV to PATH, or to stdout with `-` (one line
    /// per run)
    #[arg(long, value_name = "PATH")]
    csv: Option<PathBuf>,
    /// Also write the tables as markdown to PATH
    #[arg(long, value_name = "PATH")]
    export_markdown: Option<PathBuf>,
    /// Also write one self-contained HTML page to PATH: the tables, the
    /// charts, the machine, the workload and the command
    #[arg(long, value_name = "PATH")]
    html: Option<PathBuf>,
    /// Run the standard set (the default comparison, the book's workload
    /// with threadpool-reqwest and curl, the full sweep) and write DIR.md
    /// with its charts and JSON under DIR (alone: no other option)
    #[arg(long, value_name = "DIR", exclusive = true)]
    results: Option<PathBuf>,
}

/// Where `--json` or `--csv` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `-`: standard output (the tables then go to stderr).
    Stdout,
    /// A file.
    File(PathBuf),
}

impl Destination {
    /// `-` is stdout, anything else a file.
    fn from_arg(path: PathBuf) -> Destination {
        if path.as_os_str() == "-" {
            Destination::Stdout
        } else {
            Destination::File(path)
        }
    }

    /// The file, when it is one.
    pub(crate) fn file(&self) -> Option<&Path> {
        match self {
            Destination::Stdout => None,
            Destination::File(path) => Some(path),
        }
    }
}

/// What to compare, from the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// The codes every model downloads: upper case, sorted, distinct.
    pub country_codes: Vec<String>,
    /// The server's delay before each answer.
    pub delay: Duration,
    /// `-m`: the concurrency asked of every model (each caps it at its own
    /// maximum and at the number of codes).
    pub max_req: usize,
    /// The rows to run, in order, without repeats.
    pub models: Vec<&'static Variant>,
    /// Where the chart goes.
    pub out: PathBuf,
    /// Add the `curl --parallel` row.
    pub peer_curl: bool,
    /// `--sweep`: run the sweep alone, not the comparison.
    pub sweep_only: bool,
    /// The sweep to run: after the comparison, or alone with `--sweep`;
    /// `None` with `--no-sweep` (or when no concurrent model is chosen).
    pub sweep: Option<SweepOptions>,
    /// `--runs`: measured runs of every row of the comparison.
    pub runs: usize,
    /// `--warmup`: rounds thrown away before them.
    pub warmup: usize,
    /// `--json`: where the runs go as JSON.
    pub json: Option<Destination>,
    /// `--csv`: where the runs go as CSV.
    pub csv: Option<Destination>,
    /// `--export-markdown`: where the tables go as markdown.
    pub markdown: Option<PathBuf>,
    /// `--html`: where the page goes.
    pub html: Option<PathBuf>,
    /// The command line, as given (`flags-compare` first): recorded in the
    /// exports, so that they say what made them.
    pub command: Vec<String>,
    /// `--results DIR`: run the standard set instead, and write its page.
    pub results: Option<PathBuf>,
}

impl CompareOptions {
    /// Some export goes to stdout: the tables and every other line for a
    /// reader then go to stderr.
    pub fn data_on_stdout(&self) -> bool {
        self.json == Some(Destination::Stdout) || self.csv == Some(Destination::Stdout)
    }
}

/// What to sweep: every model at each `m`, on the same codes and delay.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOptions {
    /// The codes of every run.
    pub country_codes: Vec<String>,
    /// The server's delay before each answer.
    pub delay: Duration,
    /// The concurrencies asked, ascending, distinct; each model caps them
    /// ([`Variant::actual_max_req`]) and runs each capped value once.
    pub max_reqs: Vec<usize>,
    /// The rows, in order.
    pub models: Vec<&'static Variant>,
    /// Add `curl --parallel` at each `m`.
    pub peer_curl: bool,
    /// Where its chart goes.
    pub out: PathBuf,
    /// Measured runs of every row.
    pub runs: usize,
    /// Rounds thrown away before them, at each `m`.
    pub warmup: usize,
}

/// `--delay`: a number of seconds, from 0 to 60.
fn parse_delay(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !(seconds.is_finite() && (0.0..=60.0).contains(&seconds)) {
        return Err(format!("must be from 0 to 60 seconds, not {text}"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// One name of `--models`.
fn parse_variant(text: &str) -> Result<&'static Variant, String> {
    variant_by_name(text)
        .ok_or_else(|| format!("no model '{text}': choose among {}", variant_names()))
}

/// The sweep's chart next to the comparison's: `dir/NAME.svg` gives
/// `dir/NAME-sweep.svg`.
pub(crate) fn sweep_out_beside(out: &Path) -> PathBuf {
    let stem = out.file_stem().map_or_else(
        || "flags-compare".into(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    out.with_file_name(format!("{stem}-sweep.svg"))
}

/// Parse the command line of `flags-compare` (`argv[0]` first).
///
/// Every usage error (a bad code, `-m 0`, an unknown model, a bad delay,
/// `-m` with `--sweep`, `--json -` with `--csv -`) is a [`clap::Error`]
/// whose exit code is 2; `--help` is one whose exit code is 0.
pub fn parse_args<I, T>(argv: I) -> Result<CompareOptions, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let command: Vec<String> = std::iter::once("flags-compare".to_string())
        .chain(
            argv.iter()
                .skip(1)
                .map(|arg| arg.to_string_lossy().into_owned()),
        )
        .collect();
    let args = CompareArgs::try_parse_from(&argv)?;
    let stdout = |path: &Option<PathBuf>| path.as_ref().is_some_and(|path| path.as_os_str() == "-");
    if stdout(&args.json) && stdout(&args.csv) {
        return Err(CompareArgs::command().error(
            clap::error::ErrorKind::ArgumentConflict,
            "--json - and --csv - cannot both write to stdout: send one of them to a file",
        ));
    }
    let as_count = |value: Option<u64>, default: usize| {
        value.map_or(default, |value| {
            usize::try_from(value).unwrap_or(usize::MAX)
        })
    };
    let chose_codes = !args.cc.is_empty() || args.all || args.every;
    let chose_workload = chose_codes || args.limit.is_some();
    let limit = args
        .limit
        .map(|limit| usize::try_from(limit).unwrap_or(usize::MAX));
    let expand = |every: bool, limit: Option<usize>| {
        expand_cc_args(&CodeSelection {
            every: every || args.every,
            all: !every && (args.all || args.cc.is_empty()),
            codes: args.cc.clone(),
            limit,
        })
        .map_err(|error| {
            CompareArgs::command().error(clap::error::ErrorKind::ValueValidation, error)
        })
    };
    let country_codes = expand(
        args.sweep && !chose_codes,
        limit.or((!chose_codes && !args.sweep).then_some(DEFAULT_CODE_COUNT)),
    )?;
    let mut models: Vec<&'static Variant> = Vec::new();
    for model in args.models.clone().unwrap_or_else(default_models) {
        if !models.contains(&model) {
            models.push(model);
        }
    }
    let out = args.out.clone().unwrap_or_else(|| DEFAULT_OUT.into());
    let sweep_models: Vec<&'static Variant> = match (&args.models, args.sweep) {
        // With --sweep and named models: those, as named.
        (Some(_), true) => models.clone(),
        // Otherwise the concurrent ones: seq only ever has m = 1.
        _ => models
            .iter()
            .copied()
            .filter(|variant| variant.model.max_max_req() > 1)
            .collect(),
    };
    let sweep = if args.no_sweep || (sweep_models.is_empty() && !args.peer_curl) {
        None
    } else {
        let (codes, delay, default_m): (Vec<String>, Duration, &[usize]) = if args.sweep {
            let delay = args.delay.unwrap_or(SWEEP_DELAY);
            (country_codes.clone(), delay, &SWEEP_M)
        } else if chose_workload {
            let delay = args.delay.unwrap_or_else(default_delay);
            (country_codes.clone(), delay, &SHORT_SWEEP_M)
        } else {
            (expand(true, None)?, SHORT_SWEEP_DELAY, &SHORT_SWEEP_M)
        };
        let mut max_reqs: Vec<usize> = match &args.sweep_m {
            Some(list) => list
                .iter()
                .map(|m| usize::try_from(*m).unwrap_or(usize::MAX))
                .collect(),
            None => default_m.to_vec(),
        };
        max_reqs.sort_unstable();
        max_reqs.dedup();
        let sweep_out = match (&args.sweep_out, &args.out, args.sweep) {
            (Some(path), _, _) => path.clone(),
            (None, Some(out), true) => out.clone(),
            (None, None, true) => DEFAULT_SWEEP_OUT.into(),
            (None, _, false) => sweep_out_beside(&out),
        };
        Some(SweepOptions {
            country_codes: codes,
            delay,
            max_reqs,
            models: sweep_models,
            peer_curl: args.peer_curl,
            out: sweep_out,
            runs: as_count(args.runs, SWEEP_RUNS),
            warmup: as_count(args.warmup, SWEEP_WARMUP),
        })
    };
    Ok(CompareOptions {
        country_codes,
        delay: args.delay.unwrap_or_else(default_delay),
        max_req: args.max_req.map_or(DEFAULT_MAX_REQ, |m| {
            usize::try_from(m).unwrap_or(usize::MAX)
        }),
        models,
        out,
        peer_curl: args.peer_curl,
        sweep_only: args.sweep,
        sweep,
        runs: as_count(args.runs, DEFAULT_RUNS),
        warmup: as_count(args.warmup, DEFAULT_WARMUP),
        json: args.json.map(Destination::from_arg),
        csv: args.csv.map(Destination::from_arg),
        markdown: args.export_markdown,
        html: args.html,
        command,
        results: args.results,
    })
}

/// [`DEFAULT_DELAY`] as a duration.
fn default_delay() -> Duration {
    parse_delay(DEFAULT_DELAY).unwrap_or(Duration::from_millis(100))
}

/// Print a usage error the way the model binaries do (the message, then
/// the usage, on stderr) or `--help` on stdout; the exit status to use.
pub(super) fn report_usage_error(error: &clap::Error) -> u8 {
    let rendered = error.render().to_string();
    if error.use_stderr() {
        eprint!("{rendered}");
        if !rendered.contains("Usage:") {
            eprintln!("\n{}", CompareArgs::command().render_usage());
        }
    } else {
        print!("{rendered}");
    }
    u8::try_from(error.exit_code()).unwrap_or(flags_core::EXIT_USAGE)
}

/// The default of `--models`: every default row.
pub fn default_models() -> Vec<&'static Variant> {
    DEFAULT_VARIANTS.iter().collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sweep_out_beside_examples() {
        use crate::compare::cli::sweep_out_beside;
        use std::path::Path;
        assert_eq!(
            sweep_out_beside(Path::new("flags-compare.svg")),
            Path::new("flags-compare-sweep.svg")
        );
        assert_eq!(
            sweep_out_beside(Path::new("out/chart.svg")),
            Path::new("out/chart-sweep.svg")
        );
    }
}
