//! The layer's tar bytes as the extraction thread reads them: chunks handed over from
//! JavaScript (session.rs), read as exact-size blocks for headers and as slices of the chunks
//! for file bodies, which go to write(2) without another copy. The semantics of
//! core/layer/byte-reader.ts, which the TypeScript extractor reads with.

use crate::extract::error::{invalid, truncated, ExtractError};

/// Where the chunks come from.
pub trait Source {
    /// The next chunk, or None at the end of the input. `spent` is the previous chunk, given
    /// back so that its memory can be used again.
    fn next(&mut self, spent: Vec<u8>) -> Result<Option<Vec<u8>>, ExtractError>;
}

pub struct Input<S> {
    source: S,
    chunk: Vec<u8>,
    pos: usize,
    ended: bool,
}

impl<S: Source> Input<S> {
    pub fn new(source: S) -> Input<S> {
        Input {
            source,
            chunk: Vec::new(),
            pos: 0,
            ended: false,
        }
    }

    /// The unread bytes of the current chunk, the next chunk once it is used up; empty only at
    /// the end of the input.
    pub fn available(&mut self) -> Result<&[u8], ExtractError> {
        while self.pos == self.chunk.len() && !self.ended {
            let spent = std::mem::take(&mut self.chunk);
            self.pos = 0;
            match self.source.next(spent)? {
                Some(chunk) => self.chunk = chunk,
                None => self.ended = true,
            }
        }
        Ok(&self.chunk[self.pos..])
    }

    /// The next `n` bytes, all within the current chunk (`n` <= `available().len()`).
    pub fn take(&mut self, n: usize) -> &[u8] {
        let start = self.pos;
        self.pos += n;
        &self.chunk[start..self.pos]
    }

    /// Fills `buf`: true when it is full; false at a clean end of the input (not one byte
    /// left); a truncation error when the input ends part-way.
    pub fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<bool, ExtractError> {
        let mut filled = 0;
        while filled < buf.len() {
            let available = self.available()?;
            if available.is_empty() {
                return if filled == 0 {
                    Ok(false)
                } else {
                    Err(truncated(what))
                };
            }
            let n = available.len().min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&available[..n]);
            self.pos += n;
            filled += n;
        }
        Ok(true)
    }

    /// Passes over `n` bytes, which must all be there.
    pub fn skip(&mut self, mut n: u64, what: &str) -> Result<(), ExtractError> {
        while n > 0 {
            let available = self.available()?.len();
            if available == 0 {
                return Err(truncated(what));
            }
            let step = (available as u64).min(n) as usize;
            self.pos += step;
            n -= step as u64;
        }
        Ok(())
    }

    /// Reads to the end: padding after the archive's end marker still counts toward the
    /// diffID. More than `limit` bytes of it is no padding but a bomb.
    pub fn drain(&mut self, limit: u64) -> Result<(), ExtractError> {
        let mut trailing = 0u64;
        loop {
            let available = self.available()?.len();
            if available == 0 {
                return Ok(());
            }
            self.pos += available;
            trailing += available as u64;
            if trailing > limit {
                return Err(invalid(format!(
                    "layer has more than {limit} bytes after the end of its tar archive"
                )));
            }
        }
    }
}
