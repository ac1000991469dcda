//! The fork server forks with a raw `clone(CLONE_PARENT)`, which skips what
//! glibc's `fork` does around it (see `fork_as_sibling` in
//! `src/pool/forkserver.rs`). That is sound only while the program
//! registers no `pthread_atfork` handler and makes no robust or
//! process-shared mutex: this test reads the built binary's dynamic symbols
//! and fails if it imports what either needs, so that a new dependency
//! that starts using one is caught here, not in a deadlocked worker.

#![cfg(target_os = "linux")]

use object::{Object, ObjectSymbol};

/// Imports that would make the fork server's raw `clone` unsound.
const FORBIDDEN: &[&str] = &["pthread_atfork", "__register_atfork"];
/// Import prefixes for a mutex whose owner's thread id the child's stale
/// cached id could confuse.
const FORBIDDEN_PREFIXES: &[&str] = &["pthread_mutexattr_"];

/// The names of the symbols `program` imports from shared libraries.
fn imported_symbols(program: &std::path::Path) -> Vec<String> {
    let data = std::fs::read(program)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", program.display()));
    let file = object::File::parse(&*data)
        .unwrap_or_else(|error| panic!("{} is no object file: {error}", program.display()));
    file.dynamic_symbols()
        .filter(|symbol| symbol.is_undefined())
        .filter_map(|symbol| symbol.name().ok().map(str::to_string))
        .collect()
}

/// The `flags-process` binary, the one every worker and fork server is,
/// imports nothing that registers a fork handler or makes a robust mutex.
#[test]
fn the_binary_registers_no_fork_handler() {
    let program = std::path::Path::new(env!("CARGO_BIN_EXE_flags-process"));
    let imports = imported_symbols(program);
    // A dynamically linked Rust program imports at least `write` and
    // `malloc`: if this finds nothing, the reading is broken, not the
    // binary clean.
    assert!(
        imports.iter().any(|name| name == "write"),
        "read no imports from {}: {imports:?}",
        program.display()
    );
    let forbidden: Vec<&String> = imports
        .iter()
        .filter(|name| {
            FORBIDDEN.contains(&name.as_str())
                || FORBIDDEN_PREFIXES
                    .iter()
                    .any(|prefix| name.starts_with(prefix))
        })
        .collect();
    assert!(
        forbidden.is_empty(),
        "{} imports {forbidden:?}: the fork server's raw clone skips glibc's fork \
         handlers and its thread-id refresh (see fork_as_sibling)",
        program.display()
    );
}
