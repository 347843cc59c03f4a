//! The fields of a 512-byte tar header block: octal or GNU base-256 numbers, and the checksum.
//! Errors and their texts are those of core/layer/tar-reader.ts.

use super::text::{decode, MAX_SAFE_INTEGER};
use crate::extract::error::{invalid, ExtractError};

pub const BLOCK: usize = 512;

/// Octal ASCII, or GNU base-256 when the top bit of the first byte is set.
pub fn number(
    block: &[u8; BLOCK],
    offset: usize,
    length: usize,
    field: &str,
) -> Result<u64, ExtractError> {
    let bytes = &block[offset..offset + length];
    if bytes[0] & 0x80 != 0 {
        if bytes[0] & 0x40 != 0 {
            return Err(invalid(format!("tar header has a negative {field}")));
        }
        // At most 12 bytes: 94 bits, exact in a u128.
        let value = bytes[1..]
            .iter()
            .fold(u128::from(bytes[0] & 0x3f), |v, &b| v * 256 + u128::from(b));
        if value > u128::from(MAX_SAFE_INTEGER) {
            return Err(invalid(format!("tar header {field} is too large")));
        }
        return Ok(value as u64);
    }
    let text = decode(bytes);
    let text = text
        .trim_end_matches(['\0', ' '])
        .trim_start_matches(['\0', ' ']);
    if text.is_empty() {
        return Ok(0);
    }
    if !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(invalid(format!(
            "tar header has an invalid {field} field \"{text}\""
        )));
    }
    // At most 12 octal digits here: 36 bits.
    u64::from_str_radix(text, 8).map_err(|_| invalid(format!("tar header {field} is too large")))
}

pub fn is_zero_block(block: &[u8; BLOCK]) -> bool {
    block.iter().all(|&b| b == 0)
}

/// The stored checksum against the sum of the bytes with the checksum field as spaces, counted
/// unsigned (POSIX) or signed (some old writers).
pub fn checksum_matches(block: &[u8; BLOCK]) -> Result<bool, ExtractError> {
    let stored = number(block, 148, 8, "checksum")?;
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { 0x20 } else { b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    Ok(stored as i64 == unsigned || stored as i64 == signed)
}
