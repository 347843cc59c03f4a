//! What the extractor sets on each inode: owner, permissions, extended attributes, times.

use super::sys::Time;
use crate::extract::archive::entry::Entry;
use crate::extract::archive::text::MAX_SAFE_INTEGER;

pub struct Meta {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: Mtime,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

#[derive(Clone, Copy)]
pub enum Mtime {
    /// From a tar header: milliseconds as the TypeScript extractor has them.
    Ms(f64),
    /// Copied from a lower layer's directory: to the nanosecond.
    Exact(Time),
}

/// A directory the layer leaves implicit, with nothing below to copy from.
pub const DEFAULT_DIR: Meta = Meta {
    mode: 0o755,
    uid: 0,
    gid: 0,
    mtime: Mtime::Exact(Time { sec: 0, nsec: 0 }),
    xattrs: Vec::new(),
};

impl Meta {
    pub fn of(entry: &Entry) -> Meta {
        Meta {
            mode: entry.mode,
            uid: entry.uid,
            gid: entry.gid,
            mtime: Mtime::Ms(entry.mtime_ms),
            xattrs: entry.xattrs.clone(),
        }
    }
}

impl Mtime {
    /// The time utimensat takes, split as OverlayLayerWriter.setTimes splits milliseconds
    /// (floor to seconds, the rest as nanoseconds), computed in doubles as JavaScript does;
    /// None when that is not a whole number of seconds JavaScript holds exactly, or not whole
    /// nanoseconds (where the TypeScript extractor's lutimesNs would throw).
    pub fn time(self) -> Option<Time> {
        let ms = match self {
            Mtime::Exact(time) => return Some(time),
            Mtime::Ms(ms) => ms,
        };
        let sec = (ms / 1000.0).floor();
        let nsec = (ms - sec * 1000.0) * 1_000_000.0;
        let whole = |x: f64| x.is_finite() && x.fract() == 0.0;
        if !whole(sec)
            || sec.abs() > MAX_SAFE_INTEGER as f64
            || !whole(nsec)
            || !(0.0..=999_999_999.0).contains(&nsec)
        {
            return None;
        }
        Some(Time {
            sec: sec as i64,
            nsec: nsec as u32,
        })
    }
}
