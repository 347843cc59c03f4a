//! Descriptors of the directories on one path of the layer: the parent of the entries applied
//! last. A tar lists a directory's members together, so most entries find their parent here
//! without a system call, and only the components that differ from the previous parent's are
//! opened (one openat2 each, confined to the directory above: sys::open_dir).

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::sys::{self, Fail};

#[derive(Default)]
pub struct DirCache {
    /// chain[i]: the directory of the first i + 1 components.
    chain: Vec<(String, OwnedFd)>,
}

impl DirCache {
    /// The directory at `path` below `root` (components separated by `/`; "" is `root`), whose
    /// components are all directories of the layer. On failure, the error and how many
    /// components were open.
    pub fn get(&mut self, root: RawFd, path: &str) -> Result<RawFd, (Fail, usize)> {
        let components = path.split('/').filter(|c| !c.is_empty());
        let mut depth = 0;
        for component in components {
            if depth < self.chain.len() && self.chain[depth].0 != component {
                self.chain.truncate(depth);
            }
            if depth == self.chain.len() {
                let parent = self.chain.last().map_or(root, |(_, fd)| fd.as_raw_fd());
                let name = CString::new(component).map_err(|_| {
                    (
                        Fail {
                            syscall: "openat2",
                            errno: libc::EINVAL,
                        },
                        depth,
                    )
                })?;
                let fd = sys::open_dir(parent, &name).map_err(|fail| (fail, depth))?;
                self.chain.push((component.to_owned(), fd));
            }
            depth += 1;
        }
        Ok(if depth == 0 {
            root
        } else {
            self.chain[depth - 1].1.as_raw_fd()
        })
    }

    /// Drops the descriptors of `path` and what lies below it: it is being removed or replaced.
    pub fn forget(&mut self, path: &str) {
        let mut depth = 0;
        for component in path.split('/').filter(|c| !c.is_empty()) {
            match self.chain.get(depth) {
                Some((name, _)) if name == component => depth += 1,
                _ => return,
            }
        }
        if depth > 0 {
            self.chain.truncate(depth - 1);
        }
    }
}
