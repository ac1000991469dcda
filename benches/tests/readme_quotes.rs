//! The README quotes each model's `download_many` from the code. This test
//! keeps the quotes true: every code block that follows a
//! `<!-- quote: PATH -->` marker must appear, line for line, in that file.

use std::collections::BTreeSet;
use std::path::Path;

/// Each quoted block of the README is found verbatim in the file it names.
#[test]
fn readme_quotes_match_the_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md is readable");
    let mut quoted = BTreeSet::new();
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("<!-- quote: ") {
        let after_marker = &rest[start + "<!-- quote: ".len()..];
        let (path, after_path) = after_marker
            .split_once(" -->")
            .expect("a quote marker ends with -->");
        let block_start = after_path
            .find("```rust\n")
            .expect("a rust block follows the marker")
            + "```rust\n".len();
        let block_len = after_path[block_start..]
            .find("```")
            .expect("the rust block is closed");
        let block = &after_path[block_start..block_start + block_len];
        let source = std::fs::read_to_string(root.join(path.trim()))
            .unwrap_or_else(|error| panic!("{path}: {error}"));
        assert!(
            source.contains(block),
            "the README's quote of {path} is out of date:\n{block}"
        );
        quoted.insert(path.trim().to_string());
        rest = &after_path[block_start + block_len..];
    }
    // Every model's `download_many`, and nothing else.
    assert_eq!(
        quoted,
        BTreeSet::from(
            [
                "flags-async/src/lib.rs",
                "flags-process/src/lib.rs",
                "flags-seq/src/lib.rs",
                "flags-threadpool/src/lib.rs",
            ]
            .map(String::from)
        )
    );
}
