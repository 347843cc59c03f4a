//! PAX extended headers: records of "<length> <key>=<value>\n". Values of SCHILY.xattr.* keys
//! stay raw bytes (extended attributes such as security.capability are binary); the others are
//! text. Parsing, and the errors, as core/layer/tar-reader.ts does.

use std::collections::HashMap;

use super::text::{decode, js_prefix, js_round, positive_int, safe_integer};
use crate::extract::error::{invalid, ExtractError};

pub const XATTR_PREFIX: &str = "SCHILY.xattr.";

pub enum PaxValue {
    Text(String),
    Bytes(Vec<u8>),
}

/// PAX keys and values in the order keys first appeared; a key given again keeps its place
/// and takes the new value (a JavaScript Map).
#[derive(Default)]
pub struct PaxMap {
    order: Vec<String>,
    values: HashMap<String, PaxValue>,
}

impl PaxMap {
    pub fn set(&mut self, key: String, value: PaxValue) {
        if !self.values.contains_key(&key) {
            self.order.push(key.clone());
        }
        self.values.insert(key, value);
    }

    pub fn text(&self, key: &str) -> Option<&str> {
        match self.values.get(key) {
            Some(PaxValue::Text(text)) => Some(text),
            _ => None,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &PaxValue)> {
        self.order
            .iter()
            .map(|key| (key.as_str(), &self.values[key]))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }
}

pub fn parse(data: &[u8], into: &mut PaxMap) -> Result<(), ExtractError> {
    let malformed = || invalid("tar PAX header is malformed".into());
    let mut offset = 0;
    while offset < data.len() {
        let space = data[offset..]
            .iter()
            .position(|&b| b == b' ')
            .map(|p| offset + p);
        let length = space
            .and_then(|space| positive_int(&decode(&data[offset..space])))
            .ok_or_else(malformed)?;
        let end = (offset as u64).saturating_add(length);
        if end > data.len() as u64 || data[end as usize - 1] != b'\n' {
            return Err(malformed());
        }
        let end = end as usize;
        // The record's text: after the length's space, up to the newline (empty when that
        // space lies beyond the record, as subarray makes it).
        let start = space.unwrap_or(offset) + 1;
        let record = if start < end {
            &data[start..end - 1]
        } else {
            &[][..]
        };
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| invalid("tar PAX record has no \"=\"".into()))?;
        let key = decode(&record[..eq]);
        let value = &record[eq + 1..];
        let value = if key.starts_with(XATTR_PREFIX) {
            PaxValue::Bytes(value.to_vec())
        } else {
            PaxValue::Text(decode(value))
        };
        into.set(key, value);
        offset = end;
    }
    Ok(())
}

/// PAX numbers are decimal digits only, as Go's archive/tar reads them.
pub fn integer(value: &str, field: &str) -> Result<u64, ExtractError> {
    safe_integer(value).ok_or_else(|| {
        invalid(format!(
            "tar PAX header has an invalid {field} \"{}\"",
            js_prefix(value, 32)
        ))
    })
}

/// PAX times are decimal seconds with an optional fraction: milliseconds, rounded as the
/// TypeScript reader rounds them.
pub fn time_ms(value: &str) -> Result<f64, ExtractError> {
    let bad = || {
        invalid(format!(
            "tar PAX header has an invalid mtime \"{}\"",
            js_prefix(value, 32)
        ))
    };
    let unsigned = value.strip_prefix('-').unwrap_or(value);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !fraction.map_or(true, digits) {
        return Err(bad());
    }
    let seconds: f64 = value.parse().map_err(|_| bad())?;
    Ok(js_round(seconds * 1000.0))
}
