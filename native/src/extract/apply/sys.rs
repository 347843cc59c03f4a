//! The system calls of extraction, each on a directory descriptor and one name, so no symlink
//! is followed on the way and the last component never is. The exceptions are deliberate: the
//! layer's root, opened by the path the snapshotter gives, and extended attributes of special
//! files, set through /proc/self/fd/<dir>/<name>, the kernel's own name for that one entry.
//! Directories are opened with openat2 and RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
//! RESOLVE_NO_SYMLINKS, so the kernel itself refuses to leave the directory or to go through a
//! symlink, whatever the bookkeeping above believes.
//!
//! Failures are returned as `Fail` (the syscall and errno); the caller, which knows which layer
//! path it was working on, makes the SysError that names it.

use std::ffi::{c_int, c_void, CStr, CString};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::errno::SysError;

use crate::extract::error::ExtractError;

pub struct Fail {
    pub syscall: &'static str,
    pub errno: c_int,
}

impl Fail {
    fn last(syscall: &'static str) -> Fail {
        Fail {
            syscall,
            errno: std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        }
    }

    /// The error naming `path` (shown as the caller gives it: the layer's directory and the entry).
    pub fn at(self, path: impl Into<String>) -> ExtractError {
        ExtractError::Sys(SysError {
            syscall: self.syscall.into(),
            path: path.into(),
            subject: None,
            errno: self.errno,
        })
    }

    /// The error naming `path` and what the call was about (an attribute's name).
    pub fn about(self, path: impl Into<String>, subject: &str) -> ExtractError {
        ExtractError::Sys(SysError {
            syscall: self.syscall.into(),
            path: path.into(),
            subject: Some(subject.into()),
            errno: self.errno,
        })
    }
}

/// A time to the nanosecond, as utimensat takes it.
#[derive(Clone, Copy)]
pub struct Time {
    pub sec: i64,
    /// 0..=999_999_999.
    pub nsec: u32,
}

/// `struct open_how` of linux/openat2.h (libc's is non-exhaustive, so it cannot be built here).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn openat2(
    dir: RawFd,
    path: &CStr,
    flags: c_int,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd, Fail> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode.into(),
        resolve,
    };
    loop {
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir,
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        let fail = Fail::last("openat2");
        if fail.errno != libc::EINTR {
            return Err(fail);
        }
    }
}

/// Inside `dir` only, through no symlink and no /proc magic link.
const CONFINED: u64 =
    libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_SYMLINKS;

/// The layer's directory itself (a symlink on the way to it is the caller's business, and
/// followed); ENOSYS here means a kernel older than 5.6, without openat2.
pub fn open_root(path: &CStr) -> Result<OwnedFd, Fail> {
    openat2(
        libc::AT_FDCWD,
        path,
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
        libc::RESOLVE_NO_MAGICLINKS,
    )
}

/// A directory named `name` in `dir`, as a handle for the *at calls (O_PATH: no permission
/// needed, nothing read).
pub fn open_dir(dir: RawFd, name: &CStr) -> Result<OwnedFd, Fail> {
    openat2(
        dir,
        name,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
        CONFINED,
    )
}

/// A directory named `name` in `dir`, open for reading its entries.
pub fn open_dir_for_listing(dir: RawFd, name: &CStr) -> Result<OwnedFd, Fail> {
    openat2(
        dir,
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
        CONFINED,
    )
}

/// A new regular file (EEXIST when the name is taken: nothing is ever written through what was there).
pub fn create_file(dir: RawFd, name: &CStr) -> Result<OwnedFd, Fail> {
    openat2(
        dir,
        name,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
        0o600,
        CONFINED,
    )
}

/// lstat of `name` in `dir`; None when there is nothing of that name.
pub fn lstat_at(dir: RawFd, name: &CStr) -> Result<Option<libc::stat>, Fail> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    if unsafe {
        libc::fstatat(
            dir,
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    } != 0
    {
        let fail = Fail::last("lstat");
        return if fail.errno == libc::ENOENT {
            Ok(None)
        } else {
            Err(fail)
        };
    }
    Ok(Some(unsafe { st.assume_init() }))
}

pub fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

pub fn is_symlink(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFLNK
}

/// overlayfs' whiteout: a character device 0:0.
pub fn is_whiteout(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == 0
}

fn check(rc: c_int, syscall: &'static str) -> Result<(), Fail> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Fail::last(syscall))
    }
}

/// mkdir with owner-only permissions: the caller sets the entry's own right after.
pub fn mkdir_at(dir: RawFd, name: &CStr) -> Result<(), Fail> {
    check(unsafe { libc::mkdirat(dir, name.as_ptr(), 0o700) }, "mkdir")
}

pub fn mknod_at(dir: RawFd, name: &CStr, mode: u32, major: u32, minor: u32) -> Result<(), Fail> {
    let dev = libc::makedev(major, minor);
    check(
        unsafe { libc::mknodat(dir, name.as_ptr(), mode as libc::mode_t, dev) },
        "mknod",
    )
}

pub fn symlink_at(target: &CStr, dir: RawFd, name: &CStr) -> Result<(), Fail> {
    check(
        unsafe { libc::symlinkat(target.as_ptr(), dir, name.as_ptr()) },
        "symlink",
    )
}

/// A hardlink to `name` itself (linkat without AT_SYMLINK_FOLLOW: a symlink is linked, not its target).
pub fn link_at(from_dir: RawFd, from: &CStr, to_dir: RawFd, to: &CStr) -> Result<(), Fail> {
    check(
        unsafe { libc::linkat(from_dir, from.as_ptr(), to_dir, to.as_ptr(), 0) },
        "link",
    )
}

pub fn rename_at(from_dir: RawFd, from: &CStr, to_dir: RawFd, to: &CStr) -> Result<(), Fail> {
    check(
        unsafe { libc::renameat(from_dir, from.as_ptr(), to_dir, to.as_ptr()) },
        "rename",
    )
}

pub fn unlink_at(dir: RawFd, name: &CStr, flags: c_int) -> Result<(), Fail> {
    let syscall = if flags & libc::AT_REMOVEDIR != 0 {
        "rmdir"
    } else {
        "unlink"
    };
    check(
        unsafe { libc::unlinkat(dir, name.as_ptr(), flags) },
        syscall,
    )
}

pub fn readlink_at(dir: RawFd, name: &CStr) -> Result<Vec<u8>, Fail> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    let n = unsafe { libc::readlinkat(dir, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(Fail::last("readlink"));
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// lchown of `name` itself.
pub fn chown_at(dir: RawFd, name: &CStr, uid: u32, gid: u32) -> Result<(), Fail> {
    check(
        unsafe { libc::fchownat(dir, name.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) },
        "lchown",
    )
}

/// chmod of `name`, which the caller knows is no symlink (fchmodat cannot refuse one before
/// Linux 6.6); only the extractor writes in the layer's directory.
pub fn chmod_at(dir: RawFd, name: &CStr, mode: u32) -> Result<(), Fail> {
    check(
        unsafe { libc::fchmodat(dir, name.as_ptr(), mode as libc::mode_t, 0) },
        "chmod",
    )
}

fn timespecs(time: Time) -> [libc::timespec; 2] {
    let t = libc::timespec {
        tv_sec: time.sec as libc::time_t,
        tv_nsec: time.nsec as libc::c_long,
    };
    [t, t]
}

/// Access and modification times of `name` itself, both `time`.
pub fn utimes_at(dir: RawFd, name: &CStr, time: Time) -> Result<(), Fail> {
    let times = timespecs(time);
    check(
        unsafe {
            libc::utimensat(
                dir,
                name.as_ptr(),
                times.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        },
        "utimensat",
    )
}

pub fn fchown(fd: &OwnedFd, uid: u32, gid: u32) -> Result<(), Fail> {
    check(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) }, "lchown")
}

pub fn fchmod(fd: &OwnedFd, mode: u32) -> Result<(), Fail> {
    check(
        unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) },
        "chmod",
    )
}

pub fn futimes(fd: &OwnedFd, time: Time) -> Result<(), Fail> {
    let times = timespecs(time);
    check(
        unsafe { libc::futimens(fd.as_raw_fd(), times.as_ptr()) },
        "utimensat",
    )
}

pub fn fsetxattr(fd: RawFd, key: &CStr, value: &[u8]) -> Result<(), Fail> {
    let rc = unsafe {
        libc::fsetxattr(
            fd,
            key.as_ptr(),
            value.as_ptr() as *const c_void,
            value.len(),
            0,
        )
    };
    check(rc, "lsetxattr")
}

/// lsetxattr of `name` in `dir`, reached through the directory's descriptor in /proc (there is
/// no *at form before Linux 6.13, and fsetxattr cannot take the O_PATH descriptor that is all a
/// symlink or a device can be opened as without opening the device).
pub fn setxattr_at(dir: RawFd, name: &CStr, key: &CStr, value: &[u8]) -> Result<(), Fail> {
    let mut path = format!("/proc/self/fd/{dir}/").into_bytes();
    path.extend_from_slice(name.to_bytes());
    let path = CString::new(path).map_err(|_| Fail {
        syscall: "lsetxattr",
        errno: libc::EINVAL,
    })?;
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            key.as_ptr(),
            value.as_ptr() as *const c_void,
            value.len(),
            0,
        )
    };
    check(rc, "lsetxattr")
}

/// Writes all of `data` (write may take less than asked).
pub fn write_all(fd: &OwnedFd, mut data: &[u8]) -> Result<(), Fail> {
    while !data.is_empty() {
        let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr() as *const c_void, data.len()) };
        if n < 0 {
            let fail = Fail::last("write");
            if fail.errno == libc::EINTR {
                continue;
            }
            return Err(fail);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// The names in a directory opened for listing (`.` and `..` left out); consumes the descriptor.
pub fn list_dir(fd: OwnedFd) -> Result<Vec<CString>, Fail> {
    let raw = fd.as_raw_fd();
    let dir = unsafe { libc::fdopendir(raw) };
    if dir.is_null() {
        return Err(Fail::last("scandir"));
    }
    // The DIR stream owns the descriptor from here; closedir closes it.
    std::mem::forget(fd);
    let mut names = Vec::new();
    let result = loop {
        // readdir reports an error only through errno, which it leaves alone at the end.
        unsafe { *libc::__errno_location() = 0 };
        let entry = unsafe { libc::readdir64(dir) };
        if entry.is_null() {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            break if errno == 0 {
                Ok(())
            } else {
                Err(Fail {
                    syscall: "scandir",
                    errno,
                })
            };
        }
        let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) };
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push(name.to_owned());
        }
    };
    unsafe { libc::closedir(dir) };
    result.map(|()| names)
}

/// Random bytes for a temporary name (getrandom(2), which does not block once the pool is up).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    let mut filled = 0;
    while filled < N {
        let n = unsafe { libc::getrandom(bytes[filled..].as_mut_ptr().cast(), N - filled, 0) };
        if n > 0 {
            filled += n as usize;
        } else if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // Only unique names are needed, not secrets: the clock will do.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            for (i, byte) in bytes.iter_mut().enumerate() {
                *byte = (nanos >> (8 * (i % 16))) as u8;
            }
            break;
        }
    }
    bytes
}
