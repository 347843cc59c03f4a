//! Where a layer's paths lead inside its directory: containerd's fs.RootPath, as
//! backends/linux-native/root-path.ts does it for the TypeScript extractor. Symlinks the layer
//! itself holds are followed, one component at a time on directory descriptors, and never above
//! the layer's root; the lower layers are never looked at.

use std::collections::VecDeque;

use crate::extract::archive::text::decode;
use crate::extract::error::{invalid, ExtractError};

use super::sys::{self, is_dir, is_symlink, is_whiteout};
use super::writer::{c, join, LayerWriter};

/// Linux's limit on symlinks followed while resolving one path (MAXSYMLINKS).
const MAX_SYMLINKS: u32 = 40;

impl LayerWriter {
    /// Resolves directory names inside the layer as if its root were `/` (containerd's
    /// fs.RootPath, backends/linux-native/root-path.ts): symlinks of this layer are followed,
    /// but an absolute target or `..` never leaves the root. Names that do not exist resolve
    /// lexically. Returns the components, all directories or missing.
    pub(super) fn resolve(
        &mut self,
        names: &[&str],
        entry_path: &str,
    ) -> Result<Vec<String>, ExtractError> {
        // Known directories need no look: the common case, a member of a directory listed before.
        if self.dirs.contains_key(&names.join("/")) {
            return Ok(names.iter().map(|n| (*n).to_owned()).collect());
        }
        let mut resolved: Vec<String> = Vec::new();
        let mut pending: VecDeque<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut links = 0;
        // Once a component is missing, the ones after it are too (until a `..` climbs back above it).
        let mut first_missing: Option<usize> = None;
        while let Some(name) = pending.pop_front() {
            if name.is_empty() || name == "." {
                continue;
            }
            if name == ".." {
                resolved.pop();
                if first_missing.is_some_and(|missing| resolved.len() <= missing) {
                    first_missing = None;
                }
                continue;
            }
            if first_missing.is_none() {
                let parent = resolved.join("/");
                let path = join(&parent, &name);
                if !self.dirs.contains_key(&path) {
                    let cname = c(&name, entry_path)?;
                    let fd = self.dir_fd(&parent)?;
                    match sys::lstat_at(fd, &cname).map_err(|f| f.at(self.shown(&path)))? {
                        // A 0/0 char device is a whiteout: nothing of this layer is there.
                        None => first_missing = Some(resolved.len()),
                        Some(st) if is_whiteout(&st) => first_missing = Some(resolved.len()),
                        Some(st) if is_symlink(&st) => {
                            links += 1;
                            if links > MAX_SYMLINKS {
                                return Err(invalid(format!(
                                    "layer entry {entry_path}: too many levels of symbolic links"
                                )));
                            }
                            let target = decode(
                                &sys::readlink_at(fd, &cname)
                                    .map_err(|f| f.at(self.shown(&path)))?,
                            );
                            if target.starts_with('/') {
                                resolved.clear();
                            }
                            for part in target.split('/').rev() {
                                pending.push_front(part.to_owned());
                            }
                            continue;
                        }
                        Some(st) if is_dir(&st) => {}
                        Some(_) => {
                            return Err(invalid(format!(
                                "layer entry {entry_path}: {path} is not a directory in this layer"
                            )));
                        }
                    }
                }
            }
            resolved.push(name);
        }
        Ok(resolved)
    }
}
