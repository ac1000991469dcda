//! The table `flags-compare` prints on stdout: a line on the workload, one
//! line per row (wall time, the bound, their ratio, the speedup over seq,
//! peak memory, peak concurrency, flags saved, errors), then notes.
//!
//! Its shape is part of the interface: the tests read it cell by cell.

use super::comparison::Comparison;

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
        lines.push([
            row.label.clone(),
            row.max_req.to_string(),
            if failed {
                "FAILED".to_string()
            } else {
                format!("{:.3} s", row.wall.as_secs_f64())
            },
            format!("{:.3} s", row.bound.as_secs_f64()),
            ratio,
            speedup,
            rss,
            row.peak_in_flight.to_string(),
            row.saved.to_string(),
            row.errors.to_string(),
        ]);
    }
    let mut widths = header.map(str::len);
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.len());
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
    text.push_str(&format_line(&header.map(str::to_string)));
    let rule_width = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    text.push_str(&"-".repeat(rule_width));
    text.push('\n');
    for line in &lines {
        text.push_str(&format_line(line));
    }
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
