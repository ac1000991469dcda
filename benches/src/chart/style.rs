//! What every chart shares: the page's width and margins, the colours and
//! the fonts.
//!
//! Colours carry meaning here, and the tests rely on it: each row has its
//! own colour ([`colour`]), used for its bar and its request lines and for
//! nothing else, [`BOUND`] is used for the bound marks alone and [`SPREAD`]
//! for the bars' whiskers. The axes,
//! the grid and the grey bands have colours of their own, none of them in
//! the palette.

use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, IntoFont, RGBColor, TextStyle};

/// Width of the whole picture, in pixels.
pub(crate) const WIDTH: u32 = 1100;
/// Where titles and notes start, from the left edge.
pub(crate) const MARGIN: i32 = 20;
/// Width of the area left of every plot, where the row labels go; the same
/// for every plot, so that their time axes start at the same x.
pub(crate) const LABEL_AREA: u32 = 260;
/// Room right of every plot, for the value next to each bar.
pub(crate) const RIGHT_MARGIN: u32 = 190;

/// One colour per row, in order: Okabe and Ito's colour-blind friendly
/// palette, less its yellow (too pale on white) and its black (kept for
/// [`BOUND`]), plus Tol's wine, olive and indigo: nine rows (six default
/// rows, two extra rows and curl) before a colour repeats.
pub(crate) const PALETTE: [RGBColor; 9] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x88, 0x22, 0x55),
    RGBColor(0x99, 0x99, 0x33),
    RGBColor(0x33, 0x22, 0x88),
];
/// The bound `ceil(N / m) x delay`, wherever it is drawn.
pub const BOUND: RGBColor = RGBColor(0x00, 0x00, 0x00);
/// The whiskers of the comparison's bars: the min–max of a row's runs.
pub const SPREAD: RGBColor = RGBColor(0x33, 0x33, 0x33);
/// Axis lines, ticks and secondary text.
pub(crate) const AXIS: RGBColor = RGBColor(0x44, 0x44, 0x44);
/// Grid lines behind the plots.
pub(crate) const GRID: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
/// The band behind a timeline: the model's process, spawn to exit.
pub(crate) const LIFETIME: RGBColor = RGBColor(0xEE, 0xEE, 0xEE);
/// The legend's swatch for "wall time" (any model's bar).
pub const WALL_SWATCH: RGBColor = RGBColor(0x88, 0x88, 0x88);
/// Titles and labels.
pub(crate) const INK: RGBColor = RGBColor(0x11, 0x11, 0x11);

/// The colour of row `index` (the palette starts again after 9 rows).
pub fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// Text `pixels` high in `colour`, anchored at its top left.
///
/// plotters' SVG backend writes a font size of `size / 1.24`, so the size
/// asked of it is scaled up to get `pixels` in the file.
pub(crate) fn text(pixels: f64, colour: RGBColor) -> TextStyle<'static> {
    ("sans-serif", pixels * 1.24)
        .into_font()
        .color(&colour)
        .pos(Pos::new(HPos::Left, VPos::Top))
}

/// Bold text, as [`text`].
pub(crate) fn bold(pixels: f64, colour: RGBColor) -> TextStyle<'static> {
    ("sans-serif", pixels * 1.24)
        .into_font()
        .style(FontStyle::Bold)
        .color(&colour)
        .pos(Pos::new(HPos::Left, VPos::Top))
}

#[cfg(test)]
mod tests {
    #[test]
    fn colour_examples() {
        use crate::chart::style::{PALETTE, colour};
        assert_eq!(colour(0), PALETTE[0]);
        assert_eq!(colour(PALETTE.len() + 1), PALETTE[1]);
    }
}
