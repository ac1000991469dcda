//! A small, strict XML reader for the tests: enough of XML 1.0 to prove a
//! document well-formed (one root, every tag closed in order, attributes
//! quoted and not repeated, `&` only in the five entities or a character
//! reference, no `<` in text or attributes) and to hand back its tree.
//!
//! A dependency such as `roxmltree` would do the same; this keeps the
//! workspace's dependency list as it is.

#![allow(dead_code)]

/// One element: its name, its attributes in order, its child elements and
/// its text (entities left as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// The value of attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every element under this one (itself included), depth first.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut found = vec![self];
        for child in &self.children {
            found.extend(child.descendants());
        }
        found
    }

    /// Every element under this one named `name` whose `class` is `class`.
    pub fn find_class(&self, name: &str, class: &str) -> Vec<&Element> {
        self.descendants()
            .into_iter()
            .filter(|element| element.name == name && element.attribute("class") == Some(class))
            .collect()
    }
}

/// Parse `text` as an XML document and return its root element, or say
/// where and why it is not well-formed.
pub fn parse_xml(text: &str) -> Result<Element, String> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        position: 0,
    };
    reader.skip_whitespace();
    if reader.starts_with("<?xml") {
        reader.skip_past("?>")?;
    }
    reader.skip_misc()?;
    let root = reader.element()?;
    reader.skip_misc()?;
    if reader.position != reader.bytes.len() {
        return Err(reader.error("content after the root element"));
    }
    Ok(root)
}

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Reader<'_> {
    fn error(&self, what: &str) -> String {
        format!("not well-formed at byte {}: {what}", self.position)
    }

    fn starts_with(&self, prefix: &str) -> bool {
        self.bytes[self.position..].starts_with(prefix.as_bytes())
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(|byte| byte.is_ascii_whitespace()) {
            self.position += 1;
        }
    }

    fn skip_past(&mut self, end: &str) -> Result<(), String> {
        match self.bytes[self.position..]
            .windows(end.len())
            .position(|window| window == end.as_bytes())
        {
            Some(offset) => {
                self.position += offset + end.len();
                Ok(())
            }
            None => Err(self.error(&format!("missing {end}"))),
        }
    }

    /// Whitespace and comments between top-level items.
    fn skip_misc(&mut self) -> Result<(), String> {
        loop {
            self.skip_whitespace();
            if self.starts_with("<!--") {
                self.skip_past("-->")?;
            } else {
                return Ok(());
            }
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.position;
        while self
            .peek()
            .is_some_and(|byte| byte.is_ascii_alphanumeric() || b"_-:.".contains(&byte))
        {
            self.position += 1;
        }
        let name = &self.bytes[start..self.position];
        if name.is_empty() || name[0].is_ascii_digit() || name[0] == b'-' || name[0] == b'.' {
            return Err(self.error("expected a name"));
        }
        Ok(String::from_utf8_lossy(name).into_owned())
    }

    /// Check the `&` at the current position starts an entity we know, and
    /// step over it.
    fn entity(&mut self) -> Result<(), String> {
        let rest = &self.bytes[self.position..];
        let end = rest
            .iter()
            .position(|&byte| byte == b';')
            .ok_or_else(|| self.error("& without ;"))?;
        let body = &rest[1..end];
        let known = matches!(body, b"amp" | b"lt" | b"gt" | b"quot" | b"apos")
            || (body.len() > 1
                && body[0] == b'#'
                && (body[1..].iter().all(u8::is_ascii_digit)
                    || (body[1] == b'x'
                        && body.len() > 2
                        && body[2..].iter().all(u8::is_ascii_hexdigit))));
        if !known {
            return Err(self.error("unknown entity"));
        }
        self.position += end + 1;
        Ok(())
    }

    fn element(&mut self) -> Result<Element, String> {
        if self.peek() != Some(b'<') {
            return Err(self.error("expected <"));
        }
        self.position += 1;
        let name = self.name()?;
        let mut element = Element {
            name,
            attributes: Vec::new(),
            children: Vec::new(),
            text: String::new(),
        };
        loop {
            let before = self.position;
            self.skip_whitespace();
            match self.peek() {
                Some(b'/') => {
                    if !self.starts_with("/>") {
                        return Err(self.error("expected />"));
                    }
                    self.position += 2;
                    return Ok(element);
                }
                Some(b'>') => {
                    self.position += 1;
                    break;
                }
                Some(_) if self.position == before => {
                    return Err(self.error("attributes must be separated by whitespace"));
                }
                Some(_) => {
                    let key = self.name()?;
                    self.skip_whitespace();
                    if self.peek() != Some(b'=') {
                        return Err(self.error("expected = after an attribute name"));
                    }
                    self.position += 1;
                    self.skip_whitespace();
                    let quote = self.peek().filter(|byte| *byte == b'"' || *byte == b'\'');
                    let quote = quote.ok_or_else(|| self.error("unquoted attribute value"))?;
                    self.position += 1;
                    let start = self.position;
                    loop {
                        match self.peek() {
                            None => return Err(self.error("unterminated attribute value")),
                            Some(byte) if byte == quote => break,
                            Some(b'<') => return Err(self.error("< in an attribute value")),
                            Some(b'&') => self.entity()?,
                            Some(_) => self.position += 1,
                        }
                    }
                    let value = String::from_utf8_lossy(&self.bytes[start..self.position]);
                    self.position += 1;
                    if element
                        .attributes
                        .iter()
                        .any(|(existing, _)| *existing == key)
                    {
                        return Err(self.error(&format!("attribute {key} repeated")));
                    }
                    element.attributes.push((key, value.into_owned()));
                }
                None => return Err(self.error("unterminated tag")),
            }
        }
        // Content: text, comments, child elements, then the closing tag.
        loop {
            match self.peek() {
                None => return Err(self.error(&format!("<{}> is never closed", element.name))),
                Some(b'<') if self.starts_with("</") => {
                    self.position += 2;
                    let closing = self.name()?;
                    if closing != element.name {
                        return Err(self.error(&format!("</{closing}> closes <{}>", element.name)));
                    }
                    self.skip_whitespace();
                    if self.peek() != Some(b'>') {
                        return Err(self.error("expected > after the closing tag"));
                    }
                    self.position += 1;
                    return Ok(element);
                }
                Some(b'<') if self.starts_with("<!--") => self.skip_past("-->")?,
                Some(b'<') => {
                    let child = self.element()?;
                    element.children.push(child);
                }
                Some(b'&') => {
                    let start = self.position;
                    self.entity()?;
                    element
                        .text
                        .push_str(&String::from_utf8_lossy(&self.bytes[start..self.position]));
                }
                Some(byte) => {
                    element.text.push(char::from(byte));
                    self.position += 1;
                }
            }
        }
    }
}

/// The checker itself refuses what it should.
pub fn self_check() -> Result<(), String> {
    let good =
        r#"<?xml version="1.0"?><svg a="1" b='2'><g><line/></g><text>a &amp; b &#60;</text></svg>"#;
    parse_xml(good)?;
    for bad in [
        "<svg><g></svg>",
        "<svg a=1/>",
        r#"<svg a="1" a="2"/>"#,
        "<svg>a & b</svg>",
        "<svg>a &nbsp; b</svg>",
        r#"<svg a="<"/>"#,
        "<svg/><svg/>",
        "<svg>",
        r#"<svg a="1"b="2"/>"#,
    ] {
        if parse_xml(bad).is_ok() {
            return Err(format!("accepted {bad}"));
        }
    }
    Ok(())
}
