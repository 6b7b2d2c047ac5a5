//! Setting one field of a scenario's RON text by its path (`workload.receivers`, `faults`,
//! `node_defaults.mpp_timeout_s`), for the sweep's `Field` axis: the value's text replaces the
//! field's, or the field is added to its struct when absent. The text is scanned, not parsed:
//! strings, raw strings, characters and comments are skipped, and brackets are matched, so the
//! rest of the file (comments included) stays as written; parsing what comes out is the
//! scenario's job, which then checks the value like any other.

/// `text` with the field at `path` (dot-separated field names from the top-level struct) set to
/// `value`. A missing last field is added to its struct; a missing struct on the way is an error
/// naming it.
pub fn set_field(text: &str, path: &str, value: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut body = top_struct(bytes).ok_or("the scenario is not a struct `Scenario(...)`")?;
    let names: Vec<&str> = path.split('.').collect();
    if names
        .iter()
        .any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        return Err(format!("path {path:?} is not field names joined by dots"));
    }
    for (i, name) in names.iter().enumerate() {
        let last = i + 1 == names.len();
        match find_field(bytes, body, name) {
            Some((start, end)) if last => {
                return Ok(format!("{}{value}{}", &text[..start], &text[end..]));
            }
            Some((start, end)) => {
                let inner = inner_struct(bytes, start, end).ok_or_else(|| {
                    format!("{} is not a struct `(...)`: cannot set {path}", names[..=i].join("."))
                })?;
                body = inner;
            }
            None if last => {
                // Added right after the struct's last token (never inside a comment that may
                // follow it), after a comma if needed.
                let at = last_token_end(bytes, body);
                let before = &text[..at];
                let comma = if before.ends_with('(') || before.ends_with(',') { "" } else { "," };
                return Ok(format!("{before}{comma} {name}: {value}{}", &text[at..]));
            }
            None => {
                return Err(format!(
                    "the base scenario has no {}: cannot set {path}",
                    names[..=i].join(".")
                ));
            }
        }
    }
    unreachable!("the loop returns at the last name")
}

/// Skips what is not code at `i` (whitespace, comments); returns the next index.
fn skip_blank(bytes: &[u8], mut i: usize) -> usize {
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes[i..].starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if bytes[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < bytes.len() {
                if bytes[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if bytes[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else {
            return i;
        }
    }
}

/// The end (exclusive) of the token starting at `i`: a string, raw string or character whole,
/// else one byte.
fn token_end(bytes: &[u8], i: usize) -> usize {
    match bytes[i] {
        b'"' => {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            (j + 1).min(bytes.len())
        }
        b'\'' if bytes.get(i + 2) == Some(&b'\'') || bytes.get(i + 1) == Some(&b'\\') => {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'\'' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            (j + 1).min(bytes.len())
        }
        b'r' if matches!(bytes.get(i + 1), Some(b'"' | b'#'))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')) =>
        {
            let hashes = bytes[i + 1..].iter().take_while(|&&b| b == b'#').count();
            let open = i + 1 + hashes;
            if bytes.get(open) != Some(&b'"') {
                return i + 1;
            }
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let rest = &bytes[open + 1..];
            rest.windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(bytes.len(), |p| open + 1 + p + close.len())
        }
        _ => i + 1,
    }
}

/// The end of the last token in the struct body `(start, end)` (comments and blanks skipped),
/// or `start` when the body is empty.
fn last_token_end(bytes: &[u8], (start, end): (usize, usize)) -> usize {
    let mut i = start;
    let mut last = start;
    while i < end {
        i = skip_blank(bytes, i);
        if i >= end {
            break;
        }
        i = match bytes[i] {
            b'(' | b'[' | b'{' => matching(bytes, i) + 1,
            _ => token_end(bytes, i),
        };
        last = i.min(end);
    }
    last
}

/// The body of the top-level struct: (after its `(`, at its `)`).
fn top_struct(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut i = skip_blank(bytes, 0);
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    i = skip_blank(bytes, i);
    (bytes.get(i) == Some(&b'(')).then(|| (i + 1, matching(bytes, i)))
}

/// The index of the bracket closing the one at `open`.
fn matching(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        i = skip_blank(bytes, i);
        if i >= bytes.len() {
            break;
        }
        match bytes[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i = token_end(bytes, i);
    }
    bytes.len()
}

/// The value of field `name` directly in the struct body `(start, end)`: (value start, value
/// end), the end before the comma or closing bracket that follows it.
fn find_field(bytes: &[u8], (start, end): (usize, usize), name: &str) -> Option<(usize, usize)> {
    let mut i = start;
    while i < end {
        i = skip_blank(bytes, i);
        if i >= end {
            return None;
        }
        // A field: an identifier, a colon, a value up to the next comma at this depth.
        let ident_start = i;
        while i < end && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        let ident = &bytes[ident_start..i];
        i = skip_blank(bytes, i);
        if ident.is_empty() || bytes.get(i) != Some(&b':') {
            return None; // not a struct body of named fields
        }
        let value_start = skip_blank(bytes, i + 1);
        let mut j = value_start;
        while j < end && bytes[j] != b',' {
            j = skip_blank(bytes, j);
            if j >= end || bytes[j] == b',' {
                break;
            }
            j = match bytes[j] {
                b'(' | b'[' | b'{' => matching(bytes, j) + 1,
                _ => token_end(bytes, j),
            };
        }
        let mut value_end = j.min(end);
        while value_end > value_start && bytes[value_end - 1].is_ascii_whitespace() {
            value_end -= 1;
        }
        if ident == name.as_bytes() {
            return Some((value_start, value_end));
        }
        i = j + 1;
    }
    None
}

/// The body of the struct written between `start` and `end` (`(...)`, `Name(...)` or
/// `Some((...))`), if it is one.
fn inner_struct(bytes: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let mut i = start;
    while i < end && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    let name = &bytes[start..i];
    i = skip_blank(bytes, i);
    if bytes.get(i) != Some(&b'(') {
        return None;
    }
    if name == b"Some" {
        let inner = skip_blank(bytes, i + 1);
        return inner_struct(bytes, inner, matching(bytes, i));
    }
    Some((i + 1, matching(bytes, i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"Scenario(
    name: "x", // a comment with a (paren and a "quote
    workload: (end_s: 10, rate_per_s: 1.0, amount: Fixed(amount_msat: 5), senders: Nodes(["a,b"])),
    /* faults: [] */
    stop: (max_duration_s: 60),
)"#;

    #[test]
    fn a_field_is_replaced_where_it_stands() {
        let out = set_field(BASE, "workload.rate_per_s", "2.5").unwrap();
        assert!(out.contains("end_s: 10, rate_per_s: 2.5, amount: Fixed"), "{out}");
        let out = set_field(BASE, "workload.senders", "Largest(3)").unwrap();
        assert!(out.contains("senders: Largest(3))"), "{out}");
        let out = set_field(BASE, "workload.amount", "Fixed(amount_msat: 9)").unwrap();
        assert!(out.contains("amount: Fixed(amount_msat: 9), senders"), "{out}");
        assert!(out.contains("// a comment with a (paren"), "comments stay");
    }

    #[test]
    fn a_missing_field_is_added_and_a_missing_struct_is_named() {
        let out =
            set_field(BASE, "faults", "[(at_ms: 1, fault: Crash(node: \"a\", duration_s: 1))]")
                .unwrap();
        let added = "(max_duration_s: 60), faults: [(at_ms: 1, fault: Crash(node: \"a\", duration_s: 1))]\n)";
        assert!(out.ends_with(added), "{out}");
        assert!(out.contains("/* faults: [] */"), "a commented-out field is not the field");
        let out = set_field(BASE, "workload.max_payments", "7").unwrap();
        assert!(out.contains(r#"senders: Nodes(["a,b"]), max_payments: 7)"#), "{out}");
        // A comment after the last field stays a comment; the field goes before it.
        let commented = "Scenario(\n    stop: (max_duration_s: 60), // one minute\n)";
        let out = set_field(commented, "faults", "[]").unwrap();
        assert_eq!(out, "Scenario(\n    stop: (max_duration_s: 60), faults: [] // one minute\n)");
        let out = set_field("Scenario()", "seed", "3").unwrap();
        assert_eq!(out, "Scenario( seed: 3)");
        let err = set_field(BASE, "random_faults.crashes_per_node_day", "1.0").unwrap_err();
        assert_eq!(
            err,
            "the base scenario has no random_faults: cannot set random_faults.crashes_per_node_day"
        );
        let err = set_field(BASE, "name.x", "1").unwrap_err();
        assert!(err.contains("name is not a struct"), "{err}");
        assert!(set_field(BASE, "workload..x", "1").is_err());
    }
}
