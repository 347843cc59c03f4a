//! Extended attributes of a path itself (never following a final symlink): overlayfs keeps
//! opaque directories and redirects in trusted.overlay.*, and layers carry xattrs (PAX
//! SCHILY.xattr.*) that extraction restores.

use std::ffi::{c_char, c_void, CStr};
use std::ptr;

use crate::errno::SysError;

/// lsetxattr(2), creating or replacing the attribute.
pub fn lset(path: &CStr, name: &CStr, value: &[u8]) -> Result<(), SysError> {
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr() as *const c_void,
            value.len(),
            0,
        )
    };
    if rc != 0 {
        return Err(SysError::last("lsetxattr", path).about(name));
    }
    Ok(())
}

/// lgetxattr(2); `None` when the path has no such attribute (ENODATA).
pub fn lget(path: &CStr, name: &CStr) -> Result<Option<Vec<u8>>, SysError> {
    let fail = || {
        let err = SysError::last("lgetxattr", path).about(name);
        if err.errno == libc::ENODATA {
            Ok(None)
        } else {
            Err(err)
        }
    };
    // Ask for the size, then read; ERANGE means the value grew in between: ask again.
    loop {
        let size = unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), ptr::null_mut(), 0) };
        if size < 0 {
            return fail();
        }
        // A zero size would make the next call another query rather than a read.
        if size == 0 {
            return Ok(Some(Vec::new()));
        }
        let mut value = vec![0u8; size as usize];
        let read = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                name.as_ptr(),
                value.as_mut_ptr() as *mut c_void,
                value.len(),
            )
        };
        if read >= 0 {
            value.truncate(read as usize);
            return Ok(Some(value));
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::ERANGE) {
            return fail();
        }
    }
}

/// llistxattr(2): the attribute names, in the kernel's order.
pub fn llist(path: &CStr) -> Result<Vec<Vec<u8>>, SysError> {
    loop {
        let size = unsafe { libc::llistxattr(path.as_ptr(), ptr::null_mut(), 0) };
        if size < 0 {
            return Err(SysError::last("llistxattr", path));
        }
        if size == 0 {
            return Ok(Vec::new());
        }
        let mut list = vec![0u8; size as usize];
        let read = unsafe {
            libc::llistxattr(path.as_ptr(), list.as_mut_ptr() as *mut c_char, list.len())
        };
        if read >= 0 {
            list.truncate(read as usize);
            return Ok(list
                .split(|&b| b == 0)
                .filter(|name| !name.is_empty())
                .map(<[u8]>::to_vec)
                .collect());
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::ERANGE) {
            return Err(SysError::last("llistxattr", path));
        }
    }
}
