//! `rm -rf` of one name in a directory of the layer, on descriptors: what the TypeScript
//! extractor does with fs.rm({ recursive, force }) when a later entry replaces an earlier one.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, RawFd};

use super::sys::{self, Fail};

/// Removes `name` from `dir` with everything under it; nothing there is not an error.
pub fn remove_all(dir: RawFd, name: &CStr) -> Result<(), Fail> {
    match sys::unlink_at(dir, name, 0) {
        Ok(()) => Ok(()),
        Err(fail) if fail.errno == libc::ENOENT => Ok(()),
        // unlink(2) of a directory: EISDIR on Linux (EPERM where POSIX allows it).
        Err(fail) if fail.errno == libc::EISDIR || fail.errno == libc::EPERM => {
            let listing = match sys::open_dir_for_listing(dir, name) {
                Ok(fd) => fd,
                // Not a directory after all: the unlink's own error stands.
                Err(open) if open.errno == libc::ENOTDIR || open.errno == libc::ELOOP => {
                    return Err(fail)
                }
                Err(open) => return Err(open),
            };
            let handle = sys::open_dir(dir, name)?;
            for child in sys::list_dir(listing)? {
                remove_all(handle.as_raw_fd(), &child)?;
            }
            sys::unlink_at(dir, name, libc::AT_REMOVEDIR)
        }
        Err(fail) => Err(fail),
    }
}
