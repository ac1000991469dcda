//! The built-in data: 194 valid, distinct GIFs of realistic sizes, and
//! their metadata.

use std::collections::HashSet;

use flags_core::countries::all_cc;
use flags_server::{builtin_flag, builtin_metadata};

/// Every built-in flag decodes as a GIF with one frame of a flag's shape.
#[test]
fn every_builtin_flag_is_a_valid_gif() {
    for code in all_cc() {
        let bytes = builtin_flag(code).unwrap_or_else(|| panic!("{code} is built in"));
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::Indexed);
        let mut decoder = options
            .read_info(bytes)
            .unwrap_or_else(|error| panic!("{code}: bad GIF header: {error}"));
        let (width, height) = (decoder.width(), decoder.height());
        assert!(width >= 100 && height >= 100, "{code}: {width}x{height}");
        let frame = decoder
            .read_next_frame()
            .unwrap_or_else(|error| panic!("{code}: bad GIF frame: {error}"))
            .unwrap_or_else(|| panic!("{code}: no frame"));
        assert_eq!(
            frame.buffer.len(),
            usize::from(width) * usize::from(height),
            "{code}"
        );
    }
}

/// The 194 flags are all different, from about 1 KB to 40 KB each and 1 to
/// 5 MB together, like real flags.
#[test]
fn builtin_flags_are_distinct_with_realistic_sizes() {
    let flags: Vec<&[u8]> = all_cc()
        .into_iter()
        .map(|code| builtin_flag(code).expect("built in"))
        .collect();
    let distinct: HashSet<&[u8]> = flags.iter().copied().collect();
    assert_eq!(distinct.len(), 194);
    for (code, flag) in all_cc().into_iter().zip(&flags) {
        assert!(
            (512..=40 * 1024).contains(&flag.len()),
            "{code} is {} bytes",
            flag.len()
        );
    }
    let total: usize = flags.iter().map(|flag| flag.len()).sum();
    assert!(
        (1024 * 1024..=5 * 1024 * 1024).contains(&total),
        "total {total} bytes"
    );
    let smallest = flags.iter().map(|flag| flag.len()).min().unwrap_or(0);
    let largest = flags.iter().map(|flag| flag.len()).max().unwrap_or(0);
    assert!(
        largest >= 10 * smallest,
        "sizes spread: {smallest}..{largest}"
    );
}

/// Codes are looked up in any case; unknown codes have nothing.
#[test]
fn builtin_lookup_ignores_case_and_knows_only_the_194() {
    assert_eq!(builtin_flag("br"), builtin_flag("BR"));
    assert!(builtin_flag("zz").is_none());
    assert!(builtin_flag("").is_none());
    assert!(builtin_metadata("xx").is_none());
}

/// The metadata of Brazil is the book's JSON, byte for byte.
#[test]
fn metadata_of_brazil() {
    let text = builtin_metadata("BR").expect("BR is built in");
    assert_eq!(
        text,
        r#"{"tld_cc": ".br", "iso_cc": "BR", "country": "Brazil", "gec_cc": "BR"}"#
    );
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(value["country"], "Brazil");
    let ivory: serde_json::Value =
        serde_json::from_str(&builtin_metadata("ci").expect("CI is built in")).expect("JSON");
    assert_eq!(ivory["tld_cc"], ".ci");
}
