//! The chart read back for the tests: the SVG parsed by `roxmltree` (which
//! refuses any document that is not well-formed XML), and the marks the
//! chart draws told apart the way `flags_benches::chart` documents it, by
//! colour: a row's bar is the only `rect` filled with its colour, its
//! requests the only `polyline`s stroked with it, the bounds the only
//! `polyline`s stroked with `BOUND`.

#![allow(dead_code)]

use flags_benches::chart::style::{BOUND, WALL_SWATCH, colour};

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

/// A `polyline` element: its colour and its points, in pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Polyline {
    pub stroke: String,
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
                    points,
                });
            }
            _ => {}
        }
    }
    Ok(svg)
}
