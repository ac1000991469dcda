//! Turning the command line's country-code arguments into the sorted list
//! of codes to download, as the book's `expand_cc_args` does.

use std::collections::BTreeSet;

use crate::countries::{POP20_CC, all_cc, every_cc};

/// A country-code argument that is neither one letter nor two letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("each CC argument must be A to Z or AA to ZZ, not '{argument}'")]
pub struct BadCountryCode {
    /// The argument as the user typed it.
    pub argument: String,
}

/// What the user asked for, before expansion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeSelection {
    /// `-e`: every code AA..ZZ. Wins over `all` and `codes`.
    pub every: bool,
    /// `-a`: the 194 flags the servers hold. Wins over `codes`.
    pub all: bool,
    /// Codes or single letters, in any case.
    pub codes: Vec<String>,
    /// `-l`: keep only the first N codes after sorting.
    pub limit: Option<usize>,
}

/// Expand a selection into the codes to download: upper case, without
/// duplicates, sorted, then cut to the limit. One letter stands for its 26
/// codes (`B` is `BA..BZ`). With no code, `-a` or `-e`, the 20 most populous
/// countries.
///
/// Every argument is checked even when `-a` or `-e` makes it unused, so a
/// typo is never silently ignored.
///
/// ```
/// use flags_core::codes::{CodeSelection, expand_cc_args};
/// let selection = CodeSelection {
///     codes: vec!["jp".into(), "BR".into(), "br".into()],
///     ..CodeSelection::default()
/// };
/// assert_eq!(expand_cc_args(&selection).unwrap(), ["BR", "JP"]);
///
/// let one_letter = CodeSelection { codes: vec!["b".into()], limit: Some(3), ..Default::default() };
/// assert_eq!(expand_cc_args(&one_letter).unwrap(), ["BA", "BB", "BC"]);
///
/// let bad = CodeSelection { codes: vec!["B1".into()], ..Default::default() };
/// assert!(expand_cc_args(&bad).is_err());
/// ```
pub fn expand_cc_args(selection: &CodeSelection) -> Result<Vec<String>, BadCountryCode> {
    let mut codes = BTreeSet::new();
    for argument in &selection.codes {
        let upper = argument.to_ascii_uppercase();
        let is_letters = !upper.is_empty() && upper.bytes().all(|byte| byte.is_ascii_uppercase());
        match upper.len() {
            1 if is_letters => {
                codes.extend(('A'..='Z').map(|second| format!("{upper}{second}")));
            }
            2 if is_letters => {
                codes.insert(upper);
            }
            _ => {
                return Err(BadCountryCode {
                    argument: argument.clone(),
                });
            }
        }
    }
    if selection.every {
        codes = every_cc().into_iter().collect();
    } else if selection.all {
        codes = all_cc().into_iter().map(String::from).collect();
    } else if codes.is_empty() {
        codes = POP20_CC.iter().map(|code| code.to_string()).collect();
    }
    let limit = selection.limit.unwrap_or(usize::MAX);
    Ok(codes.into_iter().take(limit).collect())
}
