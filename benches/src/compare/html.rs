//! `--html PATH`: one self-contained page of a run, to open in a browser or
//! project in a class: the command that reproduces it, the machine, then
//! for each part its workload, its table and its chart, inline.
//!
//! The page loads nothing: its style is in a `<style>` element, its charts
//! are the SVG documents themselves, inline. It is written as XHTML-
//! compatible HTML (every element closed, every attribute quoted, text
//! escaped), so that an XML parser reads it too, which is how the tests
//! check it.

use std::fmt::Write as _;

use super::comparison::{Comparison, Repetition};
use super::export::Machine;
use super::run::codes_phrase;
use super::sweep::{Sweep, join};
use super::table::{
    Table, comparison_notes, comparison_table, sweep_notes, sweep_rig_note, sweep_summary_table,
    sweep_table,
};

/// Everything on the page.
#[derive(Debug, Clone)]
pub(crate) struct Page<'a> {
    pub(crate) title: String,
    /// The command that reproduces the run: `cargo run --release -- ...`.
    pub(crate) reproduce: String,
    /// Where it ran.
    pub(crate) machine: Machine,
    /// The comparison and its chart (an SVG document), if it ran.
    pub(crate) comparison: Option<(&'a Comparison, &'a str)>,
    /// The sweep and its chart, if it ran.
    pub(crate) sweep: Option<(&'a Sweep, &'a str)>,
}

/// The page's style: plain, readable when projected, tables with lines
/// between rows, numbers right-aligned, charts as wide as the page allows.
const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1320px;
       padding: 0 1em; color: #111; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { margin-top: 2em; border-bottom: 2px solid #ddd; padding-bottom: 0.2em; }
pre { background: #f4f4f4; padding: 0.7em 1em; overflow-x: auto; font-size: 1.05em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.88em; }
th, td { padding: 0.3em 0.55em; border-bottom: 1px solid #ddd; white-space: nowrap; }
th { text-align: right; background: #f4f4f4; white-space: normal; vertical-align: bottom; }
td { text-align: right; font-variant-numeric: tabular-nums; }
th:first-child, td:first-child { text-align: left; }
.scroll { overflow-x: auto; }
dl.machine { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1.2em; }
dl.machine dt { font-weight: bold; }
dl.machine dd { margin: 0; }
.warning { background: #fff4d6; border-left: 4px solid #d59500; padding: 0.4em 0.8em; }
.chart svg { max-width: 100%; height: auto; border: 1px solid #eee; }
";

/// Text escaped for HTML and XML alike.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A table as an HTML `table`, in a box that scrolls sideways when the
/// table is wider than the page.
pub(crate) fn table(table: &Table) -> String {
    let mut html = String::from("<div class=\"scroll\"><table>\n<thead><tr>");
    for cell in &table.header {
        let _ = write!(html, "<th>{}</th>", escape(cell));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for line in &table.lines {
        html.push_str("<tr>");
        for cell in line {
            let _ = write!(html, "<td>{}</td>", escape(cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table></div>\n");
    html
}

/// Paragraphs of notes and warnings: each warning in a box of its own.
fn notes(notes: &[String], warnings: &[String]) -> String {
    let mut html = String::new();
    for warning in warnings {
        let _ = writeln!(html, "<p class=\"warning\">{}</p>", escape(warning));
    }
    for note in notes {
        let _ = writeln!(html, "<p>{}</p>", escape(note));
    }
    html
}

/// A definition list of `(term, value)`.
fn definitions(items: &[(&str, String)]) -> String {
    let mut html = String::from("<dl class=\"machine\">\n");
    for (term, value) in items {
        let _ = writeln!(html, "<dt>{}</dt><dd>{}</dd>", escape(term), escape(value));
    }
    html.push_str("</dl>\n");
    html
}

/// How the runs were repeated and how busy the machine was, as a value.
fn repetition_value(repetition: &Repetition) -> String {
    let load = repetition.load_average.map_or_else(String::new, |load| {
        format!(
            "; 1-minute load average {load:.2} on {} CPUs when they started",
            repetition.cpus
        )
    });
    format!("{}{load}", repetition.describe())
}

/// The codes, all of them when there are few, else the first and the last.
fn codes_value(codes: &[String]) -> String {
    match codes {
        [first, .., last] if codes.len() > 12 => {
            format!("{}: {first} to {last}", codes_phrase(codes))
        }
        codes => format!("{}: {}", codes_phrase(codes), codes.join(", ")),
    }
}

/// The machine's section.
fn machine_section(machine: &Machine) -> String {
    let unknown = || "unknown".to_string();
    let os = [
        machine.os_name.clone(),
        Some(format!("{} {}", machine.os, machine.arch)),
        machine
            .kernel
            .as_ref()
            .map(|kernel| format!("kernel {kernel}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    definitions(&[
        ("CPUs", machine.cpus.to_string()),
        (
            "CPU model",
            machine.cpu_model.clone().unwrap_or_else(unknown),
        ),
        (
            "memory",
            machine.memory_bytes.map_or_else(unknown, |bytes| {
                format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
            }),
        ),
        ("OS", os),
        ("date (UTC)", machine.date.clone()),
        (
            "load average (1, 5, 15 min) at the end",
            machine
                .load_average
                .map_or_else(unknown, |[one, five, fifteen]| {
                    format!("{one:.2}, {five:.2}, {fifteen:.2}")
                }),
        ),
    ])
}

/// The comparison's section.
fn comparison_section(comparison: &Comparison, svg: &str) -> String {
    let mut html = String::from("<h2>Comparison</h2>\n");
    html.push_str(&definitions(&[
        ("codes", codes_value(&comparison.country_codes)),
        (
            "server delay",
            format!("{} s per request", comparison.delay.as_secs_f64()),
        ),
        ("-m", comparison.max_req.to_string()),
        ("runs", repetition_value(&comparison.repetition)),
    ]));
    html.push_str(
        "<p>wall: the median of the runs, spawn to exit; bound = ceil(N / m) x delay, the \
         least time m requests at a time can take (N x delay for seq); ratio = wall / bound; \
         CPU = user + system of the model's processes, the median of the runs' and their \
         min–max; peak RSS is the median of the runs'.</p>\n",
    );
    html.push_str(&table(&comparison_table(comparison)));
    html.push_str(&notes(
        &comparison_notes(comparison),
        &comparison.warnings(),
    ));
    let _ = writeln!(html, "<div class=\"chart\">\n{}\n</div>", svg.trim());
    html
}

/// The sweep's section.
fn sweep_section(sweep: &Sweep, svg: &str) -> String {
    let mut html = String::from("<h2>Sweep over m</h2>\n");
    html.push_str(&definitions(&[
        ("codes", codes_value(&sweep.country_codes)),
        (
            "server delay",
            format!("{} s per request", sweep.delay.as_secs_f64()),
        ),
        ("m", join(&sweep.max_reqs)),
        ("runs", repetition_value(&sweep.repetition)),
    ]));
    html.push_str(&format!(
        "<p>ratio = median wall / (ceil(N / m) x delay); CPU-aware bound = that bound + (the \
         model's CPU + the server's CPU) / {} CPUs; CPU/req = user + system of the model's \
         processes / N; server/req = the in-process server's threads in the same run; peak \
         PSS = peak RSS with each page shared between processes split among them; \
         KiB/in-flight = (peak RSS - peak RSS at the lowest m) / (peak in flight - its value \
         there).</p>\n",
        sweep.repetition.cpus
    ));
    html.push_str(&table(&sweep_table(sweep)));
    html.push_str(
        "<p>Per model (KiB per request in flight: at the highest m whose peak in flight \
         reached 90% of m):</p>\n",
    );
    html.push_str(&table(&sweep_summary_table(sweep)));
    html.push_str(&notes(
        &std::iter::once(sweep_rig_note(sweep))
            .chain(sweep_notes(sweep))
            .collect::<Vec<_>>(),
        &sweep.warnings(),
    ));
    let _ = writeln!(html, "<div class=\"chart\">\n{}\n</div>", svg.trim());
    html
}

pub(crate) fn to_html(page: &Page<'_>) -> String {
    let mut html = String::from("<!DOCTYPE html>\n");
    html.push_str("<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n");
    html.push_str("<meta charset=\"utf-8\"/>\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n");
    let _ = writeln!(html, "<title>{}</title>", escape(&page.title));
    let _ = writeln!(html, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(html, "<h1>{}</h1>", escape(&page.title));
    html.push_str(
        "<p>Every concurrency model on the same flags, against an in-process flag server \
         with a fixed delay; each run in a child process of its own. To run it again, from \
         the root of the workspace:</p>\n",
    );
    let _ = writeln!(html, "<pre><code>{}</code></pre>", escape(&page.reproduce));
    html.push_str("<h2>Machine</h2>\n");
    html.push_str(&machine_section(&page.machine));
    if let Some((comparison, svg)) = page.comparison {
        html.push_str(&comparison_section(comparison, svg));
    }
    if let Some((sweep, svg)) = page.sweep {
        html.push_str(&sweep_section(sweep, svg));
    }
    html.push_str("</body>\n</html>\n");
    html
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_examples() {
        use crate::compare::html::escape;
        assert_eq!(
            escape(r#"a < b & "c" > 'd'"#),
            "a &lt; b &amp; &quot;c&quot; &gt; &#39;d&#39;"
        );
    }
}
