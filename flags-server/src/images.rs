//! The built-in flags: one GIF and one `metadata.json` per country code.
//!
//! The real flags of the book are not ours to ship, so the server paints its
//! own: for each of the 194 codes of [`flags_core::countries::ALL_COUNTRIES`]
//! a small flag-like picture (stripes, a cross, a disc, a canton...) in
//! colours drawn from a random generator seeded with the code, plus a grainy
//! medallion whose grain varies from code to code. The grain is what makes
//! the compressed sizes spread like real flags do, from about 1 KB for a plain
//! tricolour to about 40 KB for a detailed coat of arms, about 2.7 MB for the
//! 194 together.
//!
//! Everything is deterministic (the same code always gives the same bytes)
//! and is generated once, on first use, behind a [`OnceLock`].

use std::collections::BTreeMap;
use std::sync::OnceLock;

use flags_core::countries::{ALL_COUNTRIES, country_name};

/// The GIF of a built-in code, in any case (`"br"` or `"BR"`), or `None` for
/// a code that is not one of the 194.
///
/// The first call paints all 194 flags (a few milliseconds in a release
/// build); later calls only look them up.
///
/// ```
/// let gif = flags_server::builtin_flag("br").expect("BR is built in");
/// assert!(gif.starts_with(b"GIF89a"));
/// assert!(flags_server::builtin_flag("zz").is_none());
/// ```
pub fn builtin_flag(country_code: &str) -> Option<&'static [u8]> {
    // Every built-in code is two ASCII letters, so anything else is not one,
    // and the upper-case key fits on the stack: the server calls this for
    // every flag it sends, without allocating.
    let &[first, second] = country_code.as_bytes() else {
        return None;
    };
    let upper = [first.to_ascii_uppercase(), second.to_ascii_uppercase()];
    let upper = std::str::from_utf8(&upper).ok()?;
    builtin_flags().get(upper).map(Vec::as_slice)
}

/// The `metadata.json` text of a built-in code, in any case, or `None` for a
/// code that is not one of the 194.
///
/// The layout is the one of the book's server, spaces included:
///
/// ```
/// assert_eq!(
///     flags_server::builtin_metadata("br").as_deref(),
///     Some(r#"{"tld_cc": ".br", "iso_cc": "BR", "country": "Brazil", "gec_cc": "BR"}"#),
/// );
/// ```
pub fn builtin_metadata(country_code: &str) -> Option<String> {
    let upper = country_code.to_ascii_uppercase();
    metadata_with_name(country_code, country_name(&upper)?)
}

/// The `metadata.json` of a built-in code with another country name: what
/// [`ServerConfig::country_names`](crate::ServerConfig::country_names)
/// serves. `None` for a code without a built-in flag.
pub fn metadata_with_name(country_code: &str, name: &str) -> Option<String> {
    let upper = country_code.to_ascii_uppercase();
    country_name(&upper)?;
    let lower = upper.to_ascii_lowercase();
    Some(format!(
        r#"{{"tld_cc": {}, "iso_cc": {}, "country": {}, "gec_cc": {}}}"#,
        json_string(&format!(".{lower}")),
        json_string(&upper),
        json_string(name),
        json_string(&upper),
    ))
}

/// A string as a JSON literal, quotes and escapes included.
fn json_string(text: &str) -> String {
    // Serialising a `&str` cannot fail: it has no map keys or custom
    // `Serialize` impl that could return an error.
    serde_json::to_string(text).unwrap_or_default()
}

/// All the built-in GIFs, keyed by upper-case code, painted on first use.
fn builtin_flags() -> &'static BTreeMap<&'static str, Vec<u8>> {
    // `OnceLock` runs the closure exactly once, even when several threads ask
    // at the same moment: the others wait for the first one to finish, then
    // all of them share the same map for the rest of the process.
    static FLAGS: OnceLock<BTreeMap<&'static str, Vec<u8>>> = OnceLock::new();
    FLAGS.get_or_init(|| {
        ALL_COUNTRIES
            .iter()
            .map(|(country_code, _)| (*country_code, paint_flag(country_code)))
            .collect()
    })
}

/// Colours a flag field may have: the usual suspects of real flags.
const FIELD_COLOURS: [[u8; 3]; 12] = [
    [206, 17, 38],   // red
    [255, 255, 255], // white
    [0, 56, 168],    // blue
    [0, 122, 61],    // green
    [252, 209, 22],  // yellow
    [0, 0, 0],       // black
    [255, 130, 0],   // orange
    [117, 170, 219], // light blue
    [128, 0, 32],    // maroon
    [0, 80, 40],     // dark green
    [0, 36, 125],    // navy
    [218, 165, 32],  // gold
];

/// Palette slots `0..FIELD_SLOTS` hold the field colours, the rest the
/// shades of the medallion.
const FIELD_SLOTS: usize = 4;
/// Number of shades of the medallion: 124, so the palette has 128 entries.
const SHADES: usize = 124;

/// Paints the flag of one code and encodes it as a GIF.
fn paint_flag(country_code: &str) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed_of(country_code));

    // Real flags come in a few proportions: 3:2 is the most common, then
    // 2:1, 5:3 and the square ones of Switzerland and the Vatican.
    let (width, height): (usize, usize) = match rng.u8(0..10) {
        0..=4 => (240, 160),
        5..=7 => (240, 120),
        8 => (250, 150),
        _ => (180, 180),
    };

    // Four distinct field colours, then a gradient between two of them (or
    // gold and a dark colour) for the medallion.
    let mut choices: Vec<usize> = (0..FIELD_COLOURS.len()).collect();
    rng.shuffle(&mut choices);
    let mut palette = Vec::with_capacity((FIELD_SLOTS + SHADES) * 3);
    for &choice in &choices[..FIELD_SLOTS] {
        palette.extend_from_slice(&FIELD_COLOURS[choice]);
    }
    let light = FIELD_COLOURS[choices[FIELD_SLOTS]];
    let dark = FIELD_COLOURS[choices[FIELD_SLOTS + 1]];
    for shade in 0..SHADES {
        for channel in 0..3 {
            let mix = |from: u8, to: u8| {
                let (from, to) = (i32::from(from), i32::from(to));
                let step = i32::try_from(shade).unwrap_or(0);
                let span = i32::try_from(SHADES - 1).unwrap_or(1);
                // The result lies between `from` and `to`, both bytes.
                u8::try_from(from + (to - from) * step / span).unwrap_or(0)
            };
            palette.push(mix(light[channel], dark[channel]));
        }
    }

    let mut canvas = Canvas {
        width,
        height,
        pixels: vec![0; width * height],
    };
    canvas.paint_field(&mut rng);
    canvas.paint_medallion(&mut rng);

    encode_gif(&canvas, &palette)
}

/// A picture being painted: one palette index per pixel, row by row.
struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    /// Sets one pixel to a palette index.
    fn set(&mut self, x: usize, y: usize, index: u8) {
        self.pixels[y * self.width + x] = index;
    }

    /// The flat design of the flag: stripes, crosses, triangles, a disc.
    fn paint_field(&mut self, rng: &mut fastrand::Rng) {
        let (width, height) = (self.width, self.height);
        let stripes = rng.usize(2..=5);
        let design = rng.u8(0..7);
        for y in 0..height {
            for x in 0..width {
                let index = match design {
                    // Horizontal stripes, like Germany or Colombia.
                    0 => y * stripes / height,
                    // Vertical stripes, like France or Nigeria.
                    1 => x * stripes.min(3) / width,
                    // A Nordic cross, like Denmark or Finland.
                    2 => {
                        let on_cross = (width / 3..width / 3 + height / 5).contains(&x)
                            || (height * 2 / 5..height * 3 / 5).contains(&y);
                        usize::from(on_cross)
                    }
                    // A triangle at the hoist over stripes, like Czechia.
                    3 => {
                        let reach = (height / 2).abs_diff(y) * width / height;
                        if x < width / 2 - reach.min(width / 2) {
                            3
                        } else {
                            y * stripes.min(3) / height
                        }
                    }
                    // A disc on a plain field, like Japan or Bangladesh.
                    4 => {
                        let radius = height * 3 / 10;
                        let (dx, dy) = (x.abs_diff(width * 2 / 5), y.abs_diff(height / 2));
                        usize::from(dx * dx + dy * dy < radius * radius)
                    }
                    // A canton over stripes, like the United States or Malaysia.
                    5 => {
                        if x < width * 2 / 5 && y < height / 2 {
                            2
                        } else {
                            (y * (2 * stripes + 3) / height) % 2
                        }
                    }
                    // A saltire, like Jamaica or Scotland.
                    _ => {
                        let (scaled_x, scaled_y) = (x * height, y * width);
                        let band = height * width / 6;
                        let on_saltire = scaled_x.abs_diff(scaled_y) < band
                            || scaled_x.abs_diff((height - 1 - y) * width) < band;
                        usize::from(on_saltire)
                    }
                };
                // Every design uses slots below FIELD_SLOTS (4) only.
                self.set(x, y, u8::try_from(index % FIELD_SLOTS).unwrap_or(0));
            }
        }
    }

    /// The detail: a shaded medallion with a grain. The grain amplitude,
    /// drawn log-uniformly per code, is what spreads the compressed sizes:
    /// no grain compresses to almost nothing, full grain hardly at all.
    fn paint_medallion(&mut self, rng: &mut fastrand::Rng) {
        let (width, height) = (self.width, self.height);
        // How busy this flag is, from 0 (plain) to 1 (a detailed coat of
        // arms). The grain amplitude grows exponentially with it, so that
        // the compressed sizes spread evenly on a log scale; the medallion
        // grows with it too.
        let detail = rng.f64();
        let grain_amplitude = (detail * ((SHADES / 2) as f64).ln()).exp() as usize - 1;
        let scale_percent = 20 + (detail * 30.0) as usize;
        // Plain flags have a few flat rings, busy ones a smooth gradient.
        let rings = 3 + (detail * detail * (SHADES - 3) as f64) as usize;
        let radius_x = width * scale_percent / 100;
        let radius_y = height * scale_percent / 100;
        let centre_x = width / 2;
        let centre_y = height / 2;
        let span_x = radius_x * radius_x;
        let span_y = radius_y * radius_y;
        // The scale is at most 50 %, so the ellipse stays on the canvas.
        for y in centre_y - radius_y..centre_y + radius_y {
            for x in centre_x - radius_x..centre_x + radius_x {
                let (dx, dy) = (x.abs_diff(centre_x), y.abs_diff(centre_y));
                // Inside the ellipse when (dx/rx)^2 + (dy/ry)^2 < 1.
                let distance = dx * dx * span_y + dy * dy * span_x;
                let limit = span_x * span_y;
                if distance >= limit {
                    continue;
                }
                // Rings of shades from the centre outwards, plus the grain.
                let ring = distance * rings / limit * (SHADES - 1) / rings;
                let grain = if grain_amplitude == 0 {
                    0
                } else {
                    rng.usize(0..=2 * grain_amplitude)
                };
                let shade = (ring + grain)
                    .saturating_sub(grain_amplitude)
                    .min(SHADES - 1);
                // FIELD_SLOTS + SHADES is 128, so the index fits in a byte.
                self.set(x, y, u8::try_from(FIELD_SLOTS + shade).unwrap_or(0));
            }
        }
    }
}

/// Encodes a canvas as a one-frame GIF with a global palette.
fn encode_gif(canvas: &Canvas, palette: &[u8]) -> Vec<u8> {
    // Invariants: the sizes fit in `u16` (at most 250 pixels), the palette
    // has 64 entries (a valid GIF table size), the buffer holds exactly
    // width x height indices, and writing to a `Vec` cannot fail, so none of
    // the `expect`s below can fire.
    let width = u16::try_from(canvas.width).expect("flag width fits in u16");
    let height = u16::try_from(canvas.height).expect("flag height fits in u16");
    let mut encoder = gif::Encoder::new(Vec::new(), width, height, palette)
        .expect("a 64-colour palette is a valid GIF palette");
    let frame = gif::Frame {
        width,
        height,
        buffer: std::borrow::Cow::Borrowed(&canvas.pixels),
        ..gif::Frame::default()
    };
    encoder
        .write_frame(&frame)
        .expect("the frame buffer has width x height pixels");
    encoder
        .into_inner()
        .expect("writing the GIF trailer to a Vec cannot fail")
}

/// A 64-bit seed from a code (FNV-1a), so each code has its own picture.
fn seed_of(country_code: &str) -> u64 {
    country_code
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}
