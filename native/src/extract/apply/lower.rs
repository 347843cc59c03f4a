//! The layers below the one being applied (committed snapshots, top first), read for what the
//! layer leaves implicit: the metadata of its implicit directories (containerd's mkparent), and
//! the names an opaque root must hide. Read-only; their paths are trusted (the snapshotter's
//! own directories), and each lookup goes one verified directory deeper at a time.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs;
use std::os::unix::fs::MetadataExt;

use crate::errno::SysError;
use crate::xattr;

use super::meta::{Meta, Mtime, DEFAULT_DIR};
use super::sys::Time;
use crate::extract::archive::text::decode;
use crate::extract::error::ExtractError;

pub const OPAQUE_XATTR: &std::ffi::CStr = c"trusted.overlay.opaque";
pub const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";

pub struct Lowers {
    dirs: Vec<String>,
}

fn cpath(path: &str) -> CString {
    // Lower paths come from JavaScript strings without NUL (checked by the bridge) and names
    // read from directories.
    CString::new(path).unwrap_or_default()
}

fn lstat_error(err: std::io::Error, path: &str) -> ExtractError {
    ExtractError::Sys(SysError {
        syscall: "lstat".into(),
        path: path.into(),
        subject: None,
        errno: err.raw_os_error().unwrap_or(libc::EIO),
    })
}

impl Lowers {
    pub fn new(dirs: Vec<String>) -> Lowers {
        Lowers { dirs }
    }

    /// Whether a directory of a lower layer is opaque.
    fn is_opaque(&self, path: &str) -> Result<bool, ExtractError> {
        Ok(xattr::lget(&cpath(path), OPAQUE_XATTR)?.is_some_and(|v| v == b"y"))
    }

    /// The metadata and attributes of the directory the lower layers show at `names`, found as
    /// overlayfs looks it up: a whiteout or a non-directory ends the search, an opaque directory
    /// hides the layers below. DEFAULT_DIR when they show none.
    pub fn implicit_meta(&self, names: &[String]) -> Result<Meta, ExtractError> {
        let mut visible: Vec<&String> = self.dirs.iter().collect();
        let mut top: Option<String> = None;
        let mut depth = 1;
        while depth <= names.len() && !visible.is_empty() {
            let mut next = Vec::new();
            top = None;
            let below = names[..depth].join("/");
            for lower in visible {
                let path = format!("{lower}/{below}");
                let Ok(info) = fs::symlink_metadata(&path) else {
                    continue;
                };
                if !info.is_dir() {
                    break;
                }
                next.push(lower);
                if top.is_none() {
                    top = Some(path.clone());
                }
                if self.is_opaque(&path)? {
                    break;
                }
            }
            visible = next;
            depth += 1;
        }
        let Some(top) = top.filter(|_| !visible.is_empty()) else {
            return Ok(DEFAULT_DIR);
        };
        let info = fs::symlink_metadata(&top).map_err(|err| lstat_error(err, &top))?;
        let ctop = cpath(&top);
        let mut xattrs = Vec::new();
        for key in xattr::llist(&ctop)? {
            // As JavaScript sees the name (llistxattr's strings), and asks for it again.
            let key = decode(&key);
            if key.starts_with(OVERLAY_XATTR_PREFIX) {
                continue;
            }
            if let Some(value) = xattr::lget(&ctop, &cpath(&key))? {
                xattrs.push((key, value));
            }
        }
        Ok(Meta {
            mode: info.mode() & 0o7777,
            uid: info.uid().into(),
            gid: info.gid().into(),
            mtime: Mtime::Exact(Time {
                sec: info.mtime(),
                nsec: info.mtime_nsec() as u32,
            }),
            xattrs,
        })
    }

    /// Every name at the root of any lower layer, in the order first seen.
    pub fn root_names(&self) -> Result<Vec<String>, ExtractError> {
        let mut seen = HashSet::new();
        let mut names = Vec::new();
        for lower in &self.dirs {
            let scandir = |err: std::io::Error| {
                ExtractError::Sys(SysError {
                    syscall: "scandir".into(),
                    path: lower.clone(),
                    subject: None,
                    errno: err.raw_os_error().unwrap_or(libc::EIO),
                })
            };
            for entry in fs::read_dir(lower).map_err(scandir)? {
                let name = decode(entry.map_err(scandir)?.file_name().as_encoded_bytes());
                if seen.insert(name.clone()) {
                    names.push(name);
                }
            }
        }
        Ok(names)
    }
}
