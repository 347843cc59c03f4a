//! One member of a layer tar, as core/layer/layer-reader.ts makes a LayerEntry of it: the tar
//! type mapped to a kind, the path normalised (relative, no `.`, no `..`), a hardlink's target
//! normalised alike, a symlink's kept as written.

use crate::extract::error::{invalid, ExtractError};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Directory,
    Symlink,
    Hardlink,
    Char,
    Block,
    Fifo,
}

pub struct Entry {
    pub path: String,
    pub kind: Kind,
    /// Permission bits with setuid, setgid and sticky (07777).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Milliseconds since the epoch, as the TypeScript reader computes them (a JavaScript number).
    pub mtime_ms: f64,
    /// A symlink's target as written; a hardlink's as a normalised layer path; else empty.
    pub link_target: String,
    pub dev_major: u64,
    pub dev_minor: u64,
    /// From PAX `SCHILY.xattr.<name>` records, in their order.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

pub fn kind_of(typeflag: char) -> Option<Kind> {
    Some(match typeflag {
        '0' | '7' => Kind::File,
        '1' => Kind::Hardlink,
        '2' => Kind::Symlink,
        '3' => Kind::Char,
        '4' => Kind::Block,
        '5' => Kind::Directory,
        '6' => Kind::Fifo,
        _ => return None,
    })
}

/// Layer paths are relative to the root. A leading `/` is dropped (as GNU tar and Docker do);
/// a `..` component is refused: no entry may name anything outside the layer.
pub fn normalize(name: &str) -> Result<String, ExtractError> {
    let parts: Vec<&str> = name
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(invalid(format!(
            "layer entry \"{name}\" has a \"..\" component: path traversal is not allowed"
        )));
    }
    Ok(parts.join("/"))
}
