//! One model in a child process of its own, and what the parent measures
//! of it.
//!
//! Why a child each: peak memory is a property of a process. Run six models
//! one after another in one process and the last one inherits the peak of
//! the others (an allocator rarely gives memory back). So `flags-compare`
//! re-runs its own executable once per model in a hidden mode,
//! `--run-model NAME`, which calls that variant's `download_many`
//! and prints one line with the count. Re-running itself means no other
//! binary has to be built: `cargo run --release` is enough.
//!
//! What is measured:
//!
//! - **wall time**, by the parent, from just before the spawn to the moment
//!   the child is reaped: start-up and tear-down of the model included, as
//!   a user would see them;
//! - **CPU time**, user and system, of the child and every descendant it
//!   reaped, from `wait4` when the parent reaps it ([`crate::cpu`]): counted
//!   by the kernel, not sampled;
//! - **peak RSS**, the high-water mark of resident memory (`VmHWM` in
//!   `/proc/{pid}/status`, Linux only). The child reads its own at the very
//!   end and prints it on its result line; meanwhile the parent samples the
//!   child and all its descendants every `SAMPLE_INTERVAL` or more
//!   (`crate::sampler`) and keeps each process's latest high-water mark.
//!   The figure reported is the larger of the child's own mark and the sum
//!   over the tree, so the process pool is charged for its workers too;
//! - **peak PSS**, the proportional set size (`Pss:` in
//!   `/proc/{pid}/smaps_rollup`, Linux only), which splits each page shared
//!   between processes among them: summed over the tree in each sample, the
//!   largest sum is kept. Sampled only: the child does not report its own;
//! - **the most processes and threads** alive at once in the tree, from the
//!   same samples (`Threads:` of each process's status, summed).
//!
//! Why not `ru_maxrss` from `wait4`, the usual answer: on Linux a spawned
//! child's `ru_maxrss` starts from the *parent's* peak (the kernel carries
//! the high-water mark of the address space replaced at `exec` over into
//! the new process's accounting), so every child of a 200 MB parent would
//! report at least 200 MB. `VmHWM` belongs to the new address space alone.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use flags_core::{DownloadJob, StatusCounter};

use crate::cpu::{CpuTimes, wait_with_cpu};
use crate::models::{Variant, variant_by_name};
use crate::sampler::Sampler;

/// The hidden first argument that makes `flags-compare` run one model and
/// exit.
pub(crate) const RUN_MODEL_FLAG: &str = "--run-model";

/// The prefix of the one line a child prints on stdout, followed by
/// `ok=N not_found=N error=N` and, on Linux, `vm_hwm_kib=N`.
pub(crate) const RESULT_PREFIX: &str = "flags-compare-result";

/// The arguments that make the child run `variant` on `job`: the hidden
/// flag, then every field of the job, then the codes after `--`.
pub fn child_args(variant: &Variant, job: &DownloadJob) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        RUN_MODEL_FLAG.into(),
        variant.name.into(),
        "--base-url".into(),
        job.base_url.clone().into(),
        "--dest".into(),
        job.dest_dir.clone().into_os_string(),
        "--max-req".into(),
        job.max_req.to_string().into(),
        "--timeout".into(),
        job.timeout.as_secs_f64().to_string().into(),
        "--".into(),
    ];
    args.extend(job.country_codes.iter().map(OsString::from));
    args
}

/// A `--run-model` command line that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad {RUN_MODEL_FLAG} arguments: {0}")]
pub struct BadChildArgs(String);

/// Parse the arguments after `argv[0]` of a child, as [`child_args`] writes
/// them: the variant and its job.
pub fn parse_child_args(
    args: &[OsString],
) -> Result<(&'static Variant, DownloadJob), BadChildArgs> {
    let bad = |what: &str| BadChildArgs(what.to_string());
    let text = |index: usize| -> Result<String, BadChildArgs> {
        args.get(index)
            .and_then(|arg| arg.to_str())
            .map(str::to_string)
            .ok_or_else(|| bad(&format!("argument {index} is missing or not UTF-8")))
    };
    if text(0)? != RUN_MODEL_FLAG {
        return Err(bad("the first argument must be --run-model"));
    }
    let name = text(1)?;
    let variant = variant_by_name(&name).ok_or_else(|| bad(&format!("no model {name:?}")))?;
    let mut job = DownloadJob::new(Vec::new(), String::new(), PathBuf::new());
    let mut index = 2;
    loop {
        let option = text(index)?;
        if option == "--" {
            break;
        }
        let value = args
            .get(index + 1)
            .ok_or_else(|| bad(&format!("{option} needs a value")))?;
        match option.as_str() {
            "--base-url" => job.base_url = text(index + 1)?,
            "--dest" => job.dest_dir = PathBuf::from(value),
            "--max-req" => {
                job.max_req = text(index + 1)?
                    .parse()
                    .map_err(|_| bad("--max-req must be a number"))?;
            }
            "--timeout" => {
                job.timeout = text(index + 1)?
                    .parse()
                    .ok()
                    .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
                    .ok_or_else(|| bad("--timeout must be a number of seconds"))?;
            }
            other => return Err(bad(&format!("unknown option {other}"))),
        }
        index += 2;
    }
    job.country_codes = args[index + 1..]
        .iter()
        .map(|code| code.to_string_lossy().into_owned())
        .collect();
    Ok((variant, job))
}

/// The `main` of a child: run the variant's `download_many` on the job of
/// the command line, in this process, and print the count on stdout as
/// [`format_result_line`] writes it. Exit status 0 when the model ran
/// (whatever it counted), 1 when it could not start, 2 for bad arguments.
pub(crate) fn child_main(args: &[OsString]) -> ExitCode {
    let (variant, job) = match parse_child_args(args) {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("flags-compare: {error}");
            return ExitCode::from(flags_core::EXIT_USAGE);
        }
    };
    match variant.download_many(&job) {
        Ok(counter) => {
            let mut stdout = io::stdout().lock();
            let report = ChildReport {
                counter,
                vm_hwm_kib: own_vm_hwm_kib(),
            };
            let written =
                writeln!(stdout, "{}", format_result_line(&report)).and_then(|()| stdout.flush());
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(flags_core::EXIT_ERROR),
            }
        }
        Err(error) => {
            eprintln!("flags-compare: {}: {error}", variant.name);
            ExitCode::from(flags_core::EXIT_ERROR)
        }
    }
}

/// What a child reports on its result line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChildReport {
    /// What the model counted.
    pub(crate) counter: StatusCounter,
    /// The child's own peak resident memory in KiB, read just before it
    /// printed this (Linux only).
    pub(crate) vm_hwm_kib: Option<u64>,
}

/// The line a child prints with its report.
pub(crate) fn format_result_line(report: &ChildReport) -> String {
    let counter = &report.counter;
    let mut line = format!(
        "{RESULT_PREFIX} ok={} not_found={} error={}",
        counter.ok, counter.not_found, counter.error
    );
    if let Some(kib) = report.vm_hwm_kib {
        line.push_str(&format!(" vm_hwm_kib={kib}"));
    }
    line
}

/// Find the result line in a child's stdout and read the report back.
pub(crate) fn parse_result_line(stdout: &str) -> Option<ChildReport> {
    let line = stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(RESULT_PREFIX))?;
    let mut counter = StatusCounter::default();
    let mut vm_hwm_kib = None;
    let mut seen = 0;
    for field in line.split_whitespace() {
        let (key, value) = field.split_once('=')?;
        let value: usize = value.parse().ok()?;
        match key {
            "ok" => counter.ok = value,
            "not_found" => counter.not_found = value,
            "error" => counter.error = value,
            "vm_hwm_kib" => {
                vm_hwm_kib = Some(value as u64);
                continue;
            }
            _ => return None,
        }
        seen += 1;
    }
    (seen == 3).then_some(ChildReport {
        counter,
        vm_hwm_kib,
    })
}

/// This process's peak resident memory so far, in KiB (Linux only).
pub(crate) fn own_vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    flags_core::limits::proc_status_field(&status, "VmHWM:")
}

/// What the parent saw of one child process.
#[derive(Debug)]
pub(crate) struct ChildRun {
    /// When the child was spawned (just before the `fork`).
    pub(crate) spawned_at: Instant,
    /// From the spawn to the moment it was reaped.
    pub(crate) wall: Duration,
    pub(crate) status: ExitStatus,
    /// The CPU time of the child and every descendant it reaped, from
    /// `wait4` (`None` where there is no `wait4`).
    pub(crate) cpu: Option<CpuTimes>,
    /// The sum of the peak resident memory of every process of the child's
    /// tree, in KiB, as sampled (see the module's header); `None` when
    /// nothing could be sampled.
    pub(crate) sampled_rss_kib: Option<u64>,
    /// The largest sum, in one sample, of the proportional set size of every
    /// process of the child's tree, in KiB; `None` when it could not be read.
    pub(crate) sampled_pss_kib: Option<u64>,
    /// The most processes seen at once in the child's tree (1 for a model
    /// that spawns none; 0 when not sampled).
    pub(crate) peak_processes: usize,
    /// The most threads seen at once in the child's tree, summed over its
    /// processes (0 when not sampled).
    pub(crate) peak_threads: usize,
    /// The CPU time the parent's sampling thread spent watching it.
    pub(crate) sampler_cpu: Option<Duration>,
    /// Everything the child wrote on stdout.
    pub(crate) stdout: String,
    /// Everything the child wrote on stderr.
    pub(crate) stderr: String,
}

/// Run `program` with `args` as a child process and measure it. Its stdout
/// and stderr go to files in `scratch_dir` (so that nothing can block on a
/// full pipe, and so that a progress bar never draws on the terminal) and
/// are read back once it has exited.
pub(crate) fn run_child(
    program: &Path,
    args: &[OsString],
    scratch_dir: &Path,
) -> io::Result<ChildRun> {
    let stdout_path = scratch_dir.join("stdout.txt");
    let stderr_path = scratch_dir.join("stderr.txt");
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path)?)
        .stderr(File::create(&stderr_path)?);
    let spawned_at = Instant::now();
    // The child starts here; from now on it runs on its own, and the
    // sampler thread watches its tree until it is reaped.
    let mut child = command.spawn()?;
    let sampler = Sampler::start(child.id());
    // Join the child: block until it exits, and reap it with its CPU time.
    let waited = wait_with_cpu(&mut child);
    let wall = spawned_at.elapsed();
    let sampled = sampler.stop();
    let (status, cpu) = waited?;
    Ok(ChildRun {
        spawned_at,
        wall,
        status,
        cpu,
        sampled_rss_kib: sampled.rss_kib,
        sampled_pss_kib: sampled.pss_kib,
        peak_processes: sampled.peak_processes,
        peak_threads: sampled.peak_threads,
        sampler_cpu: sampled.sampler_cpu,
        stdout: std::fs::read_to_string(&stdout_path)?,
        stderr: std::fs::read_to_string(&stderr_path)?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn format_result_line_examples() {
        use crate::child::{ChildReport, format_result_line, parse_result_line};
        use flags_core::StatusCounter;
        let report = ChildReport {
            counter: StatusCounter {
                ok: 38,
                not_found: 1,
                error: 1,
            },
            vm_hwm_kib: Some(9216),
        };
        let line = format_result_line(&report);
        assert_eq!(
            line,
            "flags-compare-result ok=38 not_found=1 error=1 vm_hwm_kib=9216"
        );
        assert_eq!(parse_result_line(&format!("noise\n{line}\n")), Some(report));
        assert_eq!(parse_result_line("ok=1"), None);
    }
}
