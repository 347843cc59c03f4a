//! The exit file (backends/backend.ts, DetachOptions.exitPath): the process's exit as the
//! engine reads it, `{"exitCode":137,"signal":9,"finishedAt":"..."}` (signal only when a signal
//! ended it; exitCode then 128 + its number, Docker's). Written whole and durable before it is
//! visible: a temporary file, fsync, rename over the path, fsync of the directory.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::errno::SysError;
use crate::timestamp;

pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// The exit as the exit file holds it (and as the attach socket's exit frame carries it).
pub fn record(exit: &Exit) -> Vec<u8> {
    let mut record = Vec::with_capacity(96);
    let (code, signal) = match exit {
        Exit::Code(code) => (*code, None),
        Exit::Signal(signal) => (128 + signal, Some(*signal)),
    };
    record.extend_from_slice(format!("{{\"exitCode\":{code}").as_bytes());
    if let Some(signal) = signal {
        record.extend_from_slice(format!(",\"signal\":{signal}").as_bytes());
    }
    record.extend_from_slice(b",\"finishedAt\":\"");
    timestamp::now(&mut record);
    record.extend_from_slice(b"\"}\n");
    record
}

/// Writes `record` (see `record`) to `path`.
pub fn write(path: &CStr, record: &[u8]) -> Result<(), SysError> {
    let mut temporary = path.to_bytes().to_vec();
    temporary.extend_from_slice(b".tmp");
    let temporary = CString::new(temporary).unwrap_or_default();
    let file = open(
        &temporary,
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
        0o644,
    )?;
    let written = unsafe { libc::write(file.as_raw_fd(), record.as_ptr().cast(), record.len()) };
    if written != record.len() as isize {
        return Err(SysError::last("write", &temporary));
    }
    if unsafe { libc::fsync(file.as_raw_fd()) } != 0 {
        return Err(SysError::last("fsync", &temporary));
    }
    drop(file);
    if unsafe { libc::rename(temporary.as_ptr(), path.as_ptr()) } != 0 {
        return Err(SysError::last("rename", &temporary));
    }
    let bytes = path.to_bytes();
    let directory = match bytes.iter().rposition(|b| *b == b'/') {
        Some(0) => CString::from(c"/"),
        Some(at) => CString::new(&bytes[..at]).unwrap_or_default(),
        None => CString::from(c"."),
    };
    let directory = open(&directory, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    unsafe { libc::fsync(directory.as_raw_fd()) };
    Ok(())
}

fn open(path: &CStr, flags: libc::c_int, mode: libc::mode_t) -> Result<OwnedFd, SysError> {
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, mode) };
    if fd < 0 {
        return Err(SysError::last("open", path));
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
