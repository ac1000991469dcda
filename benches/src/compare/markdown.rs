//! `--export-markdown PATH`: the tables as markdown, as hyperfine's
//! `--export-markdown` writes them, with the command that reproduces them
//! and the lines that say what the columns mean.
//!
//! Each part is a section: a heading, its workload line, its table (the
//! sweep's summary too), its notes and warnings as a list. Cells are
//! escaped (`|` and `\`); the first column is left-aligned, the others
//! right-aligned, as in the text tables.

use super::comparison::Comparison;
use super::sweep::Sweep;
use super::table::{
    Table, comparison_heading, comparison_notes, comparison_table, sweep_heading, sweep_notes,
    sweep_rig_note, sweep_summary_table, sweep_table,
};

/// A table as a markdown (GitHub-flavoured) table.
pub(crate) fn table(table: &Table) -> String {
    let line = |cells: &[String]| {
        let cells: Vec<String> = cells.iter().map(|cell| escape(cell)).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut text = line(&table.header);
    let rule: Vec<&str> = (0..table.header.len())
        .map(|column| if column == 0 { ":--" } else { "--:" })
        .collect();
    text.push_str(&format!("|{}|\n", rule.join("|")));
    for cells in &table.lines {
        text.push_str(&line(cells));
    }
    text
}

/// A cell's text, with what markdown would read as syntax escaped.
fn escape(cell: &str) -> String {
    cell.replace('\\', "\\\\").replace('|', "\\|")
}

/// Lines of text as a markdown list, one item each (nothing when empty).
fn list(items: &[String]) -> String {
    items.iter().map(|item| format!("- {item}\n")).collect()
}

/// The comparison's section: `heading` (e.g. `## Comparison`), its
/// workload, its table, its notes and warnings.
pub(crate) fn comparison_section(heading: &str, comparison: &Comparison) -> String {
    let mut text = format!("{heading}\n\n{}\n", comparison_heading(comparison));
    text.push_str(&table(&comparison_table(comparison)));
    let notes: Vec<String> = comparison_notes(comparison)
        .into_iter()
        .chain(comparison.warnings())
        .collect();
    if !notes.is_empty() {
        text.push('\n');
        text.push_str(&list(&notes));
    }
    text
}

/// The sweep's section: `heading`, its workload, its table, the summary
/// per model, its notes and warnings.
pub(crate) fn sweep_section(heading: &str, sweep: &Sweep) -> String {
    let mut text = format!("{heading}\n\n{}\n", sweep_heading(sweep));
    text.push_str(&table(&sweep_table(sweep)));
    text.push_str(
        "\nPer model (KiB per request in flight: at the highest m whose peak in flight \
         reached 90% of m):\n\n",
    );
    text.push_str(&table(&sweep_summary_table(sweep)));
    text.push_str(&format!("\n{}\n", sweep_rig_note(sweep)));
    let notes: Vec<String> = sweep_notes(sweep)
        .into_iter()
        .chain(sweep.warnings())
        .collect();
    if !notes.is_empty() {
        text.push('\n');
        text.push_str(&list(&notes));
    }
    text
}

/// The whole export: a title, the command that reproduces it, then a
/// section per part that ran.
pub(crate) fn to_markdown(
    reproduce: &str,
    comparison: Option<&Comparison>,
    sweep: Option<&Sweep>,
) -> String {
    let mut text = format!("# flags-compare\n\n```sh\n{reproduce}\n```\n");
    if let Some(comparison) = comparison {
        text.push('\n');
        text.push_str(&comparison_section("## Comparison", comparison));
    }
    if let Some(sweep) = sweep {
        text.push('\n');
        text.push_str(&sweep_section("## Sweep", sweep));
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_examples() {
        use crate::compare::markdown::table;
        use crate::compare::table::Table;
        let cells = |list: &[&str]| list.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let text = table(&Table {
            header: cells(&["model", "wall"]),
            lines: vec![cells(&["a|b", "0.4 s"])],
        });
        assert_eq!(text, "| model | wall |\n|:--|--:|\n| a\\|b | 0.4 s |\n");
    }
}
