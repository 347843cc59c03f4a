//! A snapshot's root filesystem mounted where nothing else sees it: a detached mount (new mount
//! API: fsopen + fsconfig + fsmount, or open_tree for a bind) held by a file descriptor, for
//! `docker cp` on a stopped container. Closing the descriptor (or the process dying) unmounts
//! it, so a crash leaves no mount point behind. Option paths are relative to `cwd` (overlay
//! lowerdirs are, to stay under a page); the mount is made on a thread of its own that has
//! unshared its filesystem context (CLONE_FS), so changing directory there does not move the
//! working directory of Node's threads.

use std::ffi::{CStr, CString};
use std::os::fd::{FromRawFd, OwnedFd};
use std::ptr;

use crate::errno::SysError;

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// linux/mount.h's struct mount_attr (MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// A mount as a snapshotter returns it (core/snapshot/snapshotter.ts Mount).
pub struct DetachedMount {
    pub kind: CString,
    pub source: CString,
    pub options: Vec<CString>,
    pub cwd: Option<CString>,
}

/// Mounts `mount` detached and returns the descriptor of its root.
pub fn mount_detached(mount: DetachedMount) -> Result<OwnedFd, SysError> {
    std::thread::spawn(move || {
        // SAFETY: unshare(CLONE_FS) only gives this thread its own cwd, root and umask.
        if unsafe { libc::unshare(libc::CLONE_FS) } != 0 {
            return Err(SysError::last("unshare", c"CLONE_FS"));
        }
        if let Some(cwd) = &mount.cwd {
            if unsafe { libc::chdir(cwd.as_ptr()) } != 0 {
                return Err(SysError::last("chdir", cwd));
            }
        }
        let mut attrs = 0;
        let mut recursive = false;
        let mut parameters = Vec::new();
        for option in &mount.options {
            match option.to_bytes() {
                b"ro" => attrs |= MOUNT_ATTR_RDONLY,
                b"rw" | b"bind" | b"" => {}
                b"rbind" => recursive = true,
                b"nosuid" => attrs |= MOUNT_ATTR_NOSUID,
                b"nodev" => attrs |= MOUNT_ATTR_NODEV,
                b"noexec" => attrs |= MOUNT_ATTR_NOEXEC,
                _ => parameters.push(option),
            }
        }
        if mount.kind.to_bytes() == b"bind" {
            bind(&mount.source, recursive, attrs)
        } else {
            filesystem(&mount.kind, &parameters, attrs)
        }
    })
    .join()
    .unwrap_or_else(|_| Err(SysError { syscall: "mount".into(), path: String::new(), subject: None, errno: libc::EIO }))
}

fn bind(source: &CStr, recursive: bool, attrs: u64) -> Result<OwnedFd, SysError> {
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | if recursive { AT_RECURSIVE } else { 0 };
    let fd = check(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, source.as_ptr(), flags) }, "open_tree", source)?;
    if attrs != 0 {
        let attr = MountAttr { attr_set: attrs, attr_clr: 0, propagation: 0, userns_fd: 0 };
        let at = libc::AT_EMPTY_PATH as libc::c_uint | if recursive { AT_RECURSIVE } else { 0 };
        let rc = unsafe {
            libc::syscall(libc::SYS_mount_setattr, fd_raw(&fd), c"".as_ptr(), at, &attr as *const MountAttr, std::mem::size_of::<MountAttr>())
        };
        status(rc, "mount_setattr", source)?;
    }
    Ok(fd)
}

/// `key=value` options are fsconfig strings, bare words fsconfig flags (as mount(8) passes them).
fn filesystem(kind: &CStr, parameters: &[&CString], attrs: u64) -> Result<OwnedFd, SysError> {
    let context = check(unsafe { libc::syscall(libc::SYS_fsopen, kind.as_ptr(), FSOPEN_CLOEXEC) }, "fsopen", kind)?;
    for parameter in parameters {
        let text = parameter.to_bytes();
        let rc = match text.iter().position(|&b| b == b'=') {
            Some(eq) => {
                // Both halves come from a CString: no NUL inside.
                let key = CString::new(&text[..eq]).unwrap_or_default();
                let value = CString::new(&text[eq + 1..]).unwrap_or_default();
                unsafe { libc::syscall(libc::SYS_fsconfig, fd_raw(&context), FSCONFIG_SET_STRING, key.as_ptr(), value.as_ptr(), 0) }
            }
            None => unsafe { libc::syscall(libc::SYS_fsconfig, fd_raw(&context), FSCONFIG_SET_FLAG, parameter.as_ptr(), ptr::null::<libc::c_char>(), 0) },
        };
        status(rc, "fsconfig", parameter)?;
    }
    status(
        unsafe { libc::syscall(libc::SYS_fsconfig, fd_raw(&context), FSCONFIG_CMD_CREATE, ptr::null::<libc::c_char>(), ptr::null::<libc::c_char>(), 0) },
        "fsconfig create",
        kind,
    )?;
    check(unsafe { libc::syscall(libc::SYS_fsmount, fd_raw(&context), FSMOUNT_CLOEXEC, attrs) }, "fsmount", kind)
}

fn fd_raw(fd: &OwnedFd) -> libc::c_int {
    std::os::fd::AsRawFd::as_raw_fd(fd)
}

/// The descriptor a syscall returned, or the errno it failed with.
fn check(rc: libc::c_long, syscall: &'static str, about: &CStr) -> Result<OwnedFd, SysError> {
    status(rc, syscall, about)?;
    // SAFETY: the calls checked here return a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as libc::c_int) })
}

fn status(rc: libc::c_long, syscall: &'static str, about: &CStr) -> Result<(), SysError> {
    if rc < 0 {
        return Err(SysError::last(syscall, about));
    }
    Ok(())
}
