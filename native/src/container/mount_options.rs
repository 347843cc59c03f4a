//! mount(8)-style option lists (`ro`, `nosuid`, `rbind`, `size=64m`...) as mount(2) flags plus
//! the filesystem-specific data string, as runc and containerd split them.

use std::ffi::CString;

use libc::c_ulong;

pub struct MountOptions {
    pub flags: c_ulong,
    /// Options the filesystem interprets, joined with commas; None when there are none.
    pub data: Option<CString>,
    pub bind: bool,
}

/// (option, flags it sets, flags it clears)
const FLAGS: &[(&str, c_ulong, c_ulong)] = &[
    ("ro", libc::MS_RDONLY, 0),
    ("rw", 0, libc::MS_RDONLY),
    ("nosuid", libc::MS_NOSUID, 0),
    ("suid", 0, libc::MS_NOSUID),
    ("nodev", libc::MS_NODEV, 0),
    ("dev", 0, libc::MS_NODEV),
    ("noexec", libc::MS_NOEXEC, 0),
    ("exec", 0, libc::MS_NOEXEC),
    ("sync", libc::MS_SYNCHRONOUS, 0),
    ("async", 0, libc::MS_SYNCHRONOUS),
    ("dirsync", libc::MS_DIRSYNC, 0),
    ("noatime", libc::MS_NOATIME, 0),
    ("atime", 0, libc::MS_NOATIME),
    ("nodiratime", libc::MS_NODIRATIME, 0),
    ("diratime", 0, libc::MS_NODIRATIME),
    ("relatime", libc::MS_RELATIME, 0),
    ("norelatime", 0, libc::MS_RELATIME),
    ("strictatime", libc::MS_STRICTATIME, 0),
    ("nostrictatime", 0, libc::MS_STRICTATIME),
    ("bind", libc::MS_BIND, 0),
    ("rbind", libc::MS_BIND | libc::MS_REC, 0),
];

pub fn parse(options: &[CString]) -> MountOptions {
    let mut flags: c_ulong = 0;
    let mut data: Vec<&[u8]> = Vec::new();
    for option in options {
        let text = option.to_bytes();
        match FLAGS.iter().find(|(name, _, _)| name.as_bytes() == text) {
            Some((_, set, clear)) => flags = (flags & !clear) | set,
            None if text.is_empty() => {}
            None => data.push(text),
        }
    }
    let data = (!data.is_empty()).then(|| {
        // The parts came from CStrings: no NUL inside.
        CString::new(data.join(&b","[..])).unwrap_or_default()
    });
    MountOptions {
        flags,
        data,
        bind: flags & libc::MS_BIND != 0,
    }
}
