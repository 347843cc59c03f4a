//! Creating special files and setting timestamps: what layer extraction needs beyond node:fs
//! (which has no mknod, and whose lutimes takes float seconds and so loses nanoseconds).

use std::ffi::CStr;

use crate::errno::SysError;

/// mknod(2). `mode` carries the file type (S_IFCHR, S_IFBLK, S_IFIFO...) and the permission
/// bits, which the process umask reduces as usual.
pub fn mknod(path: &CStr, mode: u32, major: u32, minor: u32) -> Result<(), SysError> {
    let dev = libc::makedev(major, minor);
    if unsafe { libc::mknod(path.as_ptr(), mode as libc::mode_t, dev) } != 0 {
        return Err(SysError::last("mknod", path));
    }
    Ok(())
}

pub struct Timestamp {
    pub sec: i64,
    /// 0..=999_999_999.
    pub nsec: u32,
}

/// utimensat(2) with AT_SYMLINK_NOFOLLOW: sets a symlink's own times, to the nanosecond.
pub fn lutimes_ns(path: &CStr, atime: Timestamp, mtime: Timestamp) -> Result<(), SysError> {
    let times = [timespec(atime), timespec(mtime)];
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            path.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(SysError::last("utimensat", path));
    }
    Ok(())
}

fn timespec(t: Timestamp) -> libc::timespec {
    libc::timespec {
        tv_sec: t.sec as libc::time_t,
        tv_nsec: t.nsec as libc::c_long,
    }
}
