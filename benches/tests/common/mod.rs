//! The chart read back for the tests: the SVG parsed by `roxmltree` (which
//! refuses any document that is not well-formed XML), and the marks the
//! chart draws told apart the way `flags_benches::chart` documents it, by
//! colour: a row's bar is the only `rect` filled with its colour, its
//! requests the only `polyline`s stroked with it, the bounds the only
//! `polyline`s stroked with `BOUND`, the whiskers the only ones stroked
//! with `SPREAD`. In the sweep's chart, a model's marks share its colour
//! and are told apart by width and opacity.

#![allow(dead_code)]

use flags_benches::chart::style::{BOUND, SPREAD, WALL_SWATCH, colour};

/// The namespace every SVG root element must be in.
pub const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";
/// The axis title under each timeline: one per timeline panel.
pub const TIMELINE_AXIS: &str = "seconds since the model's process was spawned";

/// A `rect` element, in pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// As written: `#0072B2`, or `none`.
    pub fill: String,
}

/// A `polyline` element: its colour, width, opacity and points, in pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Polyline {
    pub stroke: String,
    pub stroke_width: f64,
    pub opacity: f64,
    pub points: Vec<(f64, f64)>,
}

impl Polyline {
    /// The leftmost and rightmost x.
    pub fn x_span(&self) -> (f64, f64) {
        span(self.points.iter().map(|point| point.0))
    }

    /// The highest and lowest y (top first: SVG's y goes down).
    pub fn y_span(&self) -> (f64, f64) {
        span(self.points.iter().map(|point| point.1))
    }

    /// Two points, one above the other.
    pub fn is_vertical(&self) -> bool {
        self.points.len() == 2 && self.points[0].0 == self.points[1].0
    }

    /// Two points side by side.
    pub fn is_horizontal(&self) -> bool {
        self.points.len() == 2 && self.points[0].1 == self.points[1].1
    }

    /// A whisker: six points, a line between the middle two (as short as
    /// a point when the runs agree) with a tick across each end.
    pub fn is_whisker(&self) -> bool {
        let points = &self.points;
        points.len() == 6
            && (points[2].0 == points[3].0 || points[2].1 == points[3].1)
            && points[0] != points[1]
            && points[4] != points[5]
    }

    /// The whisker's two ends (the middle two points).
    pub fn whisker_ends(&self) -> ((f64, f64), (f64, f64)) {
        (self.points[2], self.points[3])
    }
}

fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), value| {
        (low.min(value), high.max(value))
    })
}

/// What the tests look at in a chart.
#[derive(Debug, Clone)]
pub struct Svg {
    pub width: f64,
    pub height: f64,
    /// Every `text` element's text, trimmed, entities decoded.
    pub texts: Vec<String>,
    pub rects: Vec<Rect>,
    pub polylines: Vec<Polyline>,
}

/// A colour as plotters writes it: `#RRGGBB`, upper case.
fn hex(red: u8, green: u8, blue: u8) -> String {
    format!("#{red:02X}{green:02X}{blue:02X}")
}

/// The colour of row `index`, as written in the SVG.
pub fn row_colour(index: usize) -> String {
    let colour = colour(index);
    hex(colour.0, colour.1, colour.2)
}

/// The colour of the bounds, as written in the SVG.
pub fn bound_colour() -> String {
    hex(BOUND.0, BOUND.1, BOUND.2)
}

/// The colour of the whiskers, as written in the SVG.
pub fn spread_colour() -> String {
    hex(SPREAD.0, SPREAD.1, SPREAD.2)
}

/// The colour of the legend's "wall time" swatch, as written in the SVG.
pub fn wall_swatch_colour() -> String {
    hex(WALL_SWATCH.0, WALL_SWATCH.1, WALL_SWATCH.2)
}

impl Svg {
    /// The bars of row `index`: `rect`s filled with its colour.
    pub fn bars(&self, index: usize) -> Vec<&Rect> {
        let colour = row_colour(index);
        self.rects
            .iter()
            .filter(|rect| rect.fill == colour)
            .collect()
    }

    /// The request lines of row `index`: `polyline`s stroked with its
    /// colour.
    pub fn requests(&self, index: usize) -> Vec<&Polyline> {
        let colour = row_colour(index);
        self.polylines
            .iter()
            .filter(|line| line.stroke == colour)
            .collect()
    }

    /// Every whisker of the bars (the legend's included).
    pub fn whiskers(&self) -> Vec<&Polyline> {
        let colour = spread_colour();
        self.polylines
            .iter()
            .filter(|line| line.stroke == colour)
            .collect()
    }

    /// In the sweep's chart, the lines of the model with palette index
    /// `index`: stroked with its colour, 2 pixels wide, opaque.
    pub fn model_lines(&self, index: usize) -> Vec<&Polyline> {
        self.of_colour(index)
            .filter(|line| line.stroke_width == 2.0 && line.opacity == 1.0)
            .collect()
    }

    /// In the sweep's chart, the dashes of a model's CPU-aware bound:
    /// stroked with its colour, translucent.
    pub fn dashes(&self, index: usize) -> Vec<&Polyline> {
        self.of_colour(index)
            .filter(|line| line.opacity < 1.0)
            .collect()
    }

    /// In the sweep's chart, a model's whiskers: its colour, 1 pixel wide,
    /// opaque, shaped as whiskers.
    pub fn model_whiskers(&self, index: usize) -> Vec<&Polyline> {
        self.of_colour(index)
            .filter(|line| line.stroke_width == 1.0 && line.opacity == 1.0 && line.is_whisker())
            .collect()
    }

    fn of_colour(&self, index: usize) -> impl Iterator<Item = &Polyline> {
        let colour = row_colour(index);
        self.polylines
            .iter()
            .filter(move |line| line.stroke == colour)
    }

    /// Every bound mark, in the bars and in the timelines.
    pub fn bounds(&self) -> Vec<&Polyline> {
        let colour = bound_colour();
        self.polylines
            .iter()
            .filter(|line| line.stroke == colour)
            .collect()
    }

    /// How many `text` elements read exactly `text`.
    pub fn count_text(&self, text: &str) -> usize {
        self.texts.iter().filter(|found| *found == text).count()
    }

    /// A `text` element starts with `prefix`.
    pub fn has_text_starting(&self, prefix: &str) -> bool {
        self.texts.iter().any(|found| found.starts_with(prefix))
    }

    /// How many timeline panels: one axis title each.
    pub fn timeline_count(&self) -> usize {
        self.count_text(TIMELINE_AXIS)
    }
}

/// A number attribute of `node`.
fn number(node: roxmltree::Node<'_, '_>, name: &str) -> Result<f64, String> {
    let value = node
        .attribute(name)
        .ok_or_else(|| format!("a {} without {name}", node.tag_name().name()))?;
    value
        .parse()
        .map_err(|_| format!("{name}=\"{value}\" is not a number"))
}

/// Parse `text` as an SVG document and collect its texts, rectangles and
/// polylines, or say why it is not one.
pub fn parse_svg(text: &str) -> Result<Svg, String> {
    let document = roxmltree::Document::parse(text).map_err(|error| error.to_string())?;
    let root = document.root_element();
    if root.tag_name().name() != "svg" || root.tag_name().namespace() != Some(SVG_NAMESPACE) {
        return Err(format!("the root is {:?}, not an SVG", root.tag_name()));
    }
    if root.attribute("viewBox").is_none() {
        return Err("the root has no viewBox".to_string());
    }
    let mut svg = Svg {
        width: number(root, "width")?,
        height: number(root, "height")?,
        texts: Vec::new(),
        rects: Vec::new(),
        polylines: Vec::new(),
    };
    for node in root.descendants().filter(roxmltree::Node::is_element) {
        match node.tag_name().name() {
            "text" => {
                let content: String = node
                    .descendants()
                    .filter(roxmltree::Node::is_text)
                    .filter_map(|child| child.text())
                    .collect();
                svg.texts.push(content.trim().to_string());
            }
            "rect" => svg.rects.push(Rect {
                x: number(node, "x")?,
                y: number(node, "y")?,
                width: number(node, "width")?,
                height: number(node, "height")?,
                fill: node.attribute("fill").unwrap_or("").to_string(),
            }),
            "polyline" => {
                let points = node.attribute("points").unwrap_or("");
                let points = points
                    .split_whitespace()
                    .map(|pair| {
                        let (x, y) = pair
                            .split_once(',')
                            .ok_or_else(|| format!("a point {pair:?}"))?;
                        Ok((
                            x.parse().map_err(|_| format!("x in {pair:?}"))?,
                            y.parse().map_err(|_| format!("y in {pair:?}"))?,
                        ))
                    })
                    .collect::<Result<Vec<(f64, f64)>, String>>()?;
                svg.polylines.push(Polyline {
                    stroke: node.attribute("stroke").unwrap_or("").to_string(),
                    stroke_width: node
                        .attribute("stroke-width")
                        .map_or(Ok(1.0), |_| number(node, "stroke-width"))?,
                    opacity: node
                        .attribute("opacity")
                        .map_or(Ok(1.0), |_| number(node, "opacity"))?,
                    points,
                });
            }
            _ => {}
        }
    }
    Ok(svg)
}
