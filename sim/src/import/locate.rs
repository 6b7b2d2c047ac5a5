//! Where a value stands in a JSON snapshot that has already been parsed, so that a check made
//! after parsing (a key that is not a public key, a channel listed twice) can point at the file's
//! line and column. A path is a list of object keys and array indexes from the top; the scan is
//! linear and runs only when there is an error to report. It does not check the JSON: serde_json
//! has done that. Keys written with escapes are not matched (the value has no position then).

/// One step of a path into a JSON document.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Step<'a> {
    /// The value of this key of an object.
    Key(&'a str),
    /// The element at this index of an array.
    Index(usize),
}

/// The 1-based line and column (in characters) where the value at `path` starts in `json`, or
/// `None` if the path is not there.
pub(crate) fn position(json: &[u8], path: &[Step]) -> Option<(usize, usize)> {
    value_at(json, path).map(|at| crate::input::line_column(json, at))
}

/// The byte offset where the value at `path` starts.
fn value_at(json: &[u8], path: &[Step]) -> Option<usize> {
    let mut at = skip_space(json, 0);
    for step in path {
        match *step {
            Step::Key(key) => {
                if json.get(at) != Some(&b'{') {
                    return None;
                }
                at += 1;
                loop {
                    at = skip_space(json, at);
                    if json.get(at) != Some(&b'"') {
                        return None;
                    }
                    let end = skip_string(json, at)?;
                    let name = &json[at + 1..end - 1];
                    at = skip_space(json, end);
                    if json.get(at) != Some(&b':') {
                        return None;
                    }
                    at = skip_space(json, at + 1);
                    if name == key.as_bytes() {
                        break;
                    }
                    at = skip_space(json, skip_value(json, at)?);
                    if json.get(at) != Some(&b',') {
                        return None;
                    }
                    at += 1;
                }
            }
            Step::Index(index) => {
                if json.get(at) != Some(&b'[') {
                    return None;
                }
                at = skip_space(json, at + 1);
                for _ in 0..index {
                    at = skip_space(json, skip_value(json, at)?);
                    if json.get(at) != Some(&b',') {
                        return None;
                    }
                    at = skip_space(json, at + 1);
                }
                if matches!(json.get(at), None | Some(b']')) {
                    return None;
                }
            }
        }
    }
    Some(at)
}

fn skip_space(json: &[u8], mut at: usize) -> usize {
    while matches!(json.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// One past the closing quote of the string that starts at `at`.
fn skip_string(json: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match json.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// One past the end of the value that starts at `at`.
fn skip_value(json: &[u8], at: usize) -> Option<usize> {
    match json.get(at)? {
        b'"' => skip_string(json, at),
        b'{' | b'[' => {
            let (mut depth, mut i) = (0usize, at);
            loop {
                match json.get(i)? {
                    b'"' => {
                        i = skip_string(json, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = at;
            while !matches!(
                json.get(i),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                i += 1;
            }
            Some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Step::{Index, Key};
    use super::*;

    #[test]
    fn finds_values_by_key_and_index() {
        let json = r#"{"a": {"x": "}]\"{", "y": [1, {"b": 2}]},
  "list": [ {"k": "é"} , {"k": "v", "n": null},
            {"k": [[]], "z": true} ]}"#
            .as_bytes();
        assert_eq!(position(json, &[Key("a"), Key("y"), Index(1), Key("b")]), Some((1, 37)));
        assert_eq!(position(json, &[Key("list"), Index(1), Key("n")]), Some((2, 42)));
        assert_eq!(position(json, &[Key("list"), Index(2)]), Some((3, 13)));
        assert_eq!(position(json, &[Key("list"), Index(2), Key("z")]), Some((3, 30)));
        assert_eq!(position(json, &[Key("list"), Index(3)]), None);
        assert_eq!(position(json, &[Key("nothing")]), None);
        assert_eq!(position(json, &[Key("a"), Index(0)]), None);
    }
}
