//! A streaming reader of layer tars: ustar, GNU (long names and links, base-256 numbers) and
//! PAX (path, linkpath, size, uid, gid, fractional mtime, SCHILY.xattr.*), with the layer
//! limits. The same reading, checks, order of checks and error texts as
//! core/layer/tar-reader.ts and LayerReader.entries() (the reference): the native and the
//! TypeScript extractor accept and refuse the same layers with the same errors.

use super::entry::{kind_of, normalize, Entry, Kind};
use super::header::{checksum_matches, is_zero_block, number, BLOCK};
use super::input::{Input, Source};
use super::pax::{self, PaxMap, PaxValue, XATTR_PREFIX};
use super::text::{cstring, js_length};
use crate::extract::error::{invalid, truncated, ExtractError};

/// The bounds of core/layer/limits.ts.
pub struct Limits {
    pub max_entries: u64,
    pub max_path_length: u64,
    pub max_total_file_bytes: u64,
}

/// PAX and GNU long-name records are metadata: a megabyte is far more than any real one.
const MAX_METADATA_RECORD: u64 = 1024 * 1024;
/// Writers pad archives to their record size (GNU tar: 10 KiB); a megabyte is far beyond that.
const MAX_TRAILING_BYTES: u64 = 1024 * 1024;

/// A file's contents, read as slices of the input.
pub trait Body {
    /// The next slice of the current entry's body; None once it has all been read.
    fn next(&mut self) -> Result<Option<&[u8]>, ExtractError>;
}

pub struct TarReader<S> {
    input: Input<S>,
    limits: Limits,
    global: PaxMap,
    global_metadata: u64,
    global_xattrs: usize,
    entries: u64,
    total_size: u64,
    /// The current entry's body bytes not read yet, then its padding to the next block.
    remaining: u64,
    padding: u64,
    /// The current entry, as truncation errors name it.
    what: String,
}

impl<S: Source> TarReader<S> {
    pub fn new(input: Input<S>, limits: Limits) -> TarReader<S> {
        TarReader {
            input,
            limits,
            global: PaxMap::default(),
            global_metadata: 0,
            global_xattrs: 0,
            entries: 0,
            total_size: 0,
            remaining: 0,
            padding: 0,
            what: String::new(),
        }
    }

    /// The next entry; None after the archive's end (and the padding after it) has been read.
    /// Whatever the caller left unread of the previous entry's body is skipped first.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, ExtractError> {
        self.input.skip(self.remaining + self.padding, &self.what)?;
        self.remaining = 0;
        self.padding = 0;
        let mut pax = PaxMap::default();
        // Metadata records waiting for their entry, bounded as a whole (a run of them is a bomb).
        let mut pending_metadata = 0u64;
        let mut long_name: Option<String> = None;
        let mut long_link: Option<String> = None;
        loop {
            let mut block = [0u8; BLOCK];
            if !self.input.read_exact(&mut block, "a tar header")? || is_zero_block(&block) {
                self.input.drain(MAX_TRAILING_BYTES)?;
                return Ok(None);
            }
            if !checksum_matches(&block)? {
                return Err(invalid(
                    "tar header checksum does not match: the layer is corrupt or not a tar".into(),
                ));
            }
            let typeflag = if block[156] == 0 {
                '0'
            } else {
                char::from(block[156])
            };
            let size = number(&block, 124, 12, "size")?;
            let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
            self.entries += 1;
            if self.entries > self.limits.max_entries {
                let max = self.limits.max_entries;
                return Err(ExtractError::Limit {
                    limit: "maxEntries",
                    message: format!("layer has more than {max} entries (limit maxEntries)"),
                });
            }
            if matches!(typeflag, 'x' | 'g' | 'L' | 'K') {
                if typeflag == 'g' {
                    self.global_metadata += size;
                } else {
                    pending_metadata += size;
                }
                if pending_metadata > MAX_METADATA_RECORD
                    || self.global_metadata > MAX_METADATA_RECORD
                {
                    return Err(invalid(format!(
                        "tar metadata records exceed {MAX_METADATA_RECORD} bytes: the layer is corrupt"
                    )));
                }
                // Bounded by the check above.
                let mut data = vec![0u8; padded as usize];
                if !data.is_empty() && !self.input.read_exact(&mut data, "a tar metadata record")? {
                    return Err(truncated("a tar metadata record"));
                }
                data.truncate(size as usize);
                match typeflag {
                    'x' => pax::parse(&data, &mut pax)?,
                    'g' => {
                        pax::parse(&data, &mut self.global)?;
                        self.global_xattrs = self
                            .global
                            .keys()
                            .filter(|k| k.starts_with(XATTR_PREFIX))
                            .count();
                    }
                    'L' => long_name = Some(cstring(&data)),
                    _ => long_link = Some(cstring(&data)),
                }
                continue;
            }
            return self
                .entry(&block, typeflag, size, pax, long_name, long_link)
                .map(Some);
        }
    }

    fn entry(
        &mut self,
        block: &[u8; BLOCK],
        typeflag: char,
        size: u64,
        pax: PaxMap,
        long_name: Option<String>,
        long_link: Option<String>,
    ) -> Result<Entry, ExtractError> {
        if typeflag == 'S' || pax.keys().any(|k| k.starts_with("GNU.sparse.")) {
            return Err(invalid(
                "tar entry is a GNU sparse file, which layers may not contain".into(),
            ));
        }
        let pax_value = |key: &str| {
            pax.text(key)
                .or_else(|| self.global.text(key))
                .map(str::to_owned)
        };
        let ustar = cstring(&block[257..263]) == "ustar";
        let prefix = if ustar && block[263] == b'0' {
            cstring(&block[345..500])
        } else {
            String::new()
        };
        let mut name = pax_value("path").or(long_name).unwrap_or_else(|| {
            let name = cstring(&block[0..100]);
            if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            }
        });
        let linkname = pax_value("linkpath")
            .or(long_link)
            .unwrap_or_else(|| cstring(&block[157..257]));
        let body_size = match pax_value("size") {
            Some(value) => pax::integer(&value, "size")?,
            None => size,
        };
        let (pax_mtime, pax_uid, pax_gid) =
            (pax_value("mtime"), pax_value("uid"), pax_value("gid"));
        let mut xattrs: Vec<(String, Vec<u8>)> = Vec::new();
        let maps = if self.global_xattrs > 0 {
            [Some(&self.global), Some(&pax)]
        } else {
            [None, Some(&pax)]
        };
        for (key, value) in maps.into_iter().flatten().flat_map(PaxMap::iter) {
            if let (Some(name), PaxValue::Bytes(value)) = (key.strip_prefix(XATTR_PREFIX), value) {
                match xattrs.iter_mut().find(|(k, _)| k == name) {
                    Some(existing) => existing.1 = value.clone(),
                    None => xattrs.push((name.to_owned(), value.clone())),
                }
            }
        }

        let length = js_length(&name) as u64;
        if length > self.limits.max_path_length {
            let max = self.limits.max_path_length;
            return Err(ExtractError::Limit {
                limit: "maxPathLength",
                message: format!("layer entry path is {length} characters, more than {max} (limit maxPathLength)"),
            });
        }
        let is_file = typeflag == '0' || typeflag == '7';
        if is_file {
            self.total_size = self.total_size.saturating_add(body_size);
            if self.total_size > self.limits.max_total_file_bytes {
                let max = self.limits.max_total_file_bytes;
                return Err(ExtractError::Limit {
                    limit: "maxTotalFileBytes",
                    message: format!(
                        "layer holds more than {max} bytes of files (limit maxTotalFileBytes)"
                    ),
                });
            }
        }
        if typeflag == '5' && name.ends_with('/') {
            name.truncate(name.trim_end_matches('/').len());
        }
        // Header-only types carry no data whatever their size field says (as Go's archive/tar).
        let data_size = if is_file { body_size } else { 0 };
        self.remaining = data_size;
        self.padding = data_size.div_ceil(BLOCK as u64) * BLOCK as u64 - data_size;
        self.what = if name.is_empty() {
            "a tar entry".into()
        } else {
            name.clone()
        };

        // The fields in the order the TypeScript reader decodes them, for the same first error.
        let mode = (number(block, 100, 8, "mode")? & 0o7777) as u32;
        let uid = match pax_uid {
            Some(value) => pax::integer(&value, "uid")?,
            None => number(block, 108, 8, "uid")?,
        };
        let gid = match pax_gid {
            Some(value) => pax::integer(&value, "gid")?,
            None => number(block, 116, 8, "gid")?,
        };
        let mtime_ms = match pax_mtime {
            Some(value) => pax::time_ms(&value)?,
            None => number(block, 136, 12, "mtime")? as f64 * 1000.0,
        };
        let dev_major = number(block, 329, 8, "devmajor")?;
        let dev_minor = number(block, 337, 8, "devminor")?;

        let kind = kind_of(typeflag).ok_or_else(|| {
            invalid(format!(
                "layer entry {name} has unsupported tar type '{typeflag}'"
            ))
        })?;
        let path = normalize(&name)?;
        let link_target = match kind {
            Kind::Symlink => linkname,
            Kind::Hardlink => normalize(&linkname)?,
            _ => String::new(),
        };
        Ok(Entry {
            path,
            kind,
            mode,
            uid,
            gid,
            mtime_ms,
            link_target,
            dev_major,
            dev_minor,
            xattrs,
        })
    }
}

impl<S: Source> Body for TarReader<S> {
    fn next(&mut self) -> Result<Option<&[u8]>, ExtractError> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let available = self.input.available()?.len();
        if available == 0 {
            return Err(truncated(&self.what));
        }
        let n = (available as u64).min(self.remaining) as usize;
        self.remaining -= n as u64;
        Ok(Some(self.input.take(n)))
    }
}
