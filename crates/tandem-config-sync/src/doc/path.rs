//! Field paths as `config get/set` take them and `sync diff` prints them:
//! dot-separated segments, a segment that needs it in double quotes.

use std::fmt::{self, Write};

use super::{check_field, check_id, check_section_segment, ObjectKey};

/// Whether a segment must be quoted to read back as itself.
fn needs_quotes(segment: &str) -> bool {
    segment.is_empty()
        || segment
            .chars()
            .any(|c| matches!(c, '.' | '"' | '\\') || c.is_whitespace() || c.is_control())
}

/// Writes one id or field segment, quoted if it needs it.
pub(super) fn write_segment(out: &mut impl Write, segment: &str) -> fmt::Result {
    if !needs_quotes(segment) {
        return out.write_str(segment);
    }
    out.write_char('"')?;
    for c in segment.chars() {
        if c == '"' || c == '\\' {
            out.write_char('\\')?;
        }
        out.write_char(c)?;
    }
    out.write_char('"')
}

/// One segment of a path, and whether it was quoted.
struct Segment {
    text: String,
    quoted: bool,
}

/// Splits a path at the dots outside quotes.
fn split(path: &str) -> Result<Vec<Segment>, &'static str> {
    if path.is_empty() {
        return Err("the path is empty");
    }
    let mut segments = Vec::new();
    let mut chars = path.chars().peekable();
    loop {
        let mut text = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("a quoted segment has no closing quote"),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\')) => text.push(c),
                        _ => return Err(
                            "inside quotes a backslash must be followed by a quote or a backslash",
                        ),
                    },
                    Some(c) => text.push(c),
                }
            }
            match chars.peek() {
                None | Some('.') => {}
                Some(_) => return Err("a closing quote must end its segment"),
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                if c == '"' {
                    return Err("a quote inside an unquoted segment (quote the whole segment)");
                }
                text.push(c);
                chars.next();
            }
        }
        if text.is_empty() {
            return Err("a segment is empty (a leading, trailing or double dot, or \"\")");
        }
        segments.push(Segment { text, quoted });
        // Past the dot, or done.
        if chars.next().is_none() {
            return Ok(segments);
        }
    }
}

const NO_SECTION: &str = "the path names no section";

/// Takes one section segment.
fn section_segment<'a>(
    segments: &mut impl Iterator<Item = &'a Segment>,
    missing: &'static str,
) -> Result<&'a str, &'static str> {
    let segment = segments.next().ok_or(missing)?;
    if segment.quoted {
        return Err("a section segment is never quoted");
    }
    check_section_segment(&segment.text)?;
    Ok(&segment.text)
}

/// Takes a section that is not an overlay: one segment, two for `app.<kind>`.
fn plain_section<'a>(
    segments: &mut impl Iterator<Item = &'a Segment>,
    section: &mut String,
) -> Result<(), &'static str> {
    let first = section_segment(segments, NO_SECTION)?;
    section.push_str(first);
    if first == "app" {
        let kind = section_segment(segments, "`app` must be followed by a kind, as `app.vs`")?;
        section.push('.');
        section.push_str(kind);
    }
    Ok(())
}

/// Reads a path into its key and field.
pub(super) fn parse(path: &str) -> Result<(ObjectKey, String), &'static str> {
    let segments = split(path)?;
    let mut rest = segments.iter().peekable();
    let mut section = String::new();
    if rest.peek().is_some_and(|s| !s.quoted && s.text == "unit") {
        rest.next();
        let unit = section_segment(
            &mut rest,
            "`unit` must be followed by a unit id and a section, as `unit.b.instance`",
        )?;
        section.push_str("unit.");
        section.push_str(unit);
        section.push('.');
        let overlaid = section.len();
        plain_section(&mut rest, &mut section).map_err(|why| match why {
            NO_SECTION => "`unit.<id>` must be followed by a section, as `unit.b.instance`",
            other => other,
        })?;
        if section.get(overlaid..) == Some("unit") {
            return Err("a unit overlay cannot hold another unit overlay");
        }
    } else {
        plain_section(&mut rest, &mut section)?;
    }
    if section.len() > super::MAX_NAME_LEN {
        return Err("a section name must be at most 255 bytes");
    }
    let rest: Vec<&Segment> = rest.collect();
    let (id, field) = match rest.as_slice() {
        [] => return Err("the path names a section but no field"),
        [field] => ("", field.text.as_str()),
        [id, field] => (id.text.as_str(), field.text.as_str()),
        _ => return Err(
            "after the section only an id and a field may follow (quote a segment that has a dot)",
        ),
    };
    check_id(id)?;
    check_field(field)?;
    Ok((ObjectKey::new(section, id), field.to_owned()))
}
