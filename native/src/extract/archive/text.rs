//! Text as the TypeScript tar reader sees it, so that both extractors make the same names of
//! the same bytes and say the same things about bad ones: header fields and PAX values are
//! decoded with TextDecoder (invalid UTF-8 becomes U+FFFD, a leading byte-order mark is
//! dropped), lengths are counted in UTF-16 code units, numbers parsed as parseInt and Number do.

/// TextDecoder's decoding of `bytes` (its replacement of invalid sequences is the one
/// String::from_utf8_lossy makes: U+FFFD per maximal subpart).
pub fn decode(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text.into_owned(),
    }
}

/// A NUL-terminated header field (the whole field when it has no NUL).
pub fn cstring(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    decode(&field[..end])
}

/// A JavaScript string's `length`.
pub fn js_length(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// `text.slice(0, n)` for the excerpts error messages quote (a surrogate pair is not split).
pub fn js_prefix(text: &str, n: usize) -> &str {
    let mut units = 0;
    for (at, c) in text.char_indices() {
        units += c.len_utf16();
        if units > n {
            return &text[..at];
        }
    }
    text
}

/// JavaScript's white space and line terminators, which parseInt skips.
fn js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// `parseInt(text, 10) > 0`, as the count it then is: None for NaN, zero or a negative number.
/// Saturates far beyond any length a record can have.
pub fn positive_int(text: &str) -> Option<u64> {
    let text = text.trim_start_matches(js_space);
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits = &digits[..digits.bytes().take_while(u8::is_ascii_digit).count()];
    if digits.is_empty() {
        return None;
    }
    let value = digits.bytes().fold(0u64, |v, d| {
        v.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    (!negative && value > 0).then_some(value)
}

/// Number.MAX_SAFE_INTEGER: the largest integer JavaScript numbers hold exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A string of ASCII digits as Number() reads it, when it is a safe integer.
pub fn safe_integer(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = digits.bytes().fold(0u64, |v, d| {
        v.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    (value <= MAX_SAFE_INTEGER).then_some(value)
}

/// Math.round: halves go up (f64::round takes them away from zero).
pub fn js_round(x: f64) -> f64 {
    let floor = x.floor();
    if x - floor >= 0.5 {
        floor + 1.0
    } else {
        floor
    }
}
