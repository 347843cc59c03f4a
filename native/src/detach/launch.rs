//! Starting a process under a new monitor. The addon runs native/berth-monitor (found next to
//! the addon itself) with a pipe as its stdin, for the request, and one as its stdout, for the
//! reply. That first process forks the monitor and exits as soon as the monitor has started
//! its process (the double fork that leaves the monitor no child of the engine: it is
//! reparented, and nothing here ever has to reap it), or once a monitor that failed has exited;
//! the monitor starts the process exactly as `spawn` or `exec` would, and replies once it has
//! exec'd, or with the error the start failed with.

use std::ffi::{c_void, CStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::wire::{self, Detach, Request, Started};
use crate::container::spec::{ExecSpec, SpawnSpec};
use crate::errno::SysError;
use crate::error::Error;

/// The monitor's file name, beside the addon's (native/build.sh puts it there).
const MONITOR: &str = "berth-monitor";

/// Starts a container's init under a new monitor, which writes its output to the log and its
/// exit to the exit file of `detach`. Its stdin is a pipe the monitor keeps for the clients of
/// its attach socket when `detach.attach` asks for it, else /dev/null: nobody is there to
/// write to it.
pub fn spawn_detached(mut spec: SpawnSpec, detach: Detach) -> Result<Started, Error> {
    spec.process.stdin = detach.attach.as_ref().is_some_and(|attach| attach.stdin);
    launch(&Request::Init(spec, detach))
}

/// Starts an exec under a new monitor, which records its exit in the exit file of `detach`.
/// Its stdio is /dev/null (or its terminal, whose output the monitor reads and drops), as
/// `docker exec -d` discards an exec's output.
pub fn exec_detached(mut spec: ExecSpec, detach: Detach) -> Result<Started, Error> {
    spec.process.stdin = false;
    spec.process.stdout = false;
    spec.process.stderr = false;
    launch(&Request::Exec(spec, detach))
}

fn launch(request: &Request) -> Result<Started, Error> {
    let frame = wire::encode_request(request);
    let path = monitor_path()?;
    let (request_read, request_write) = pipe()?;
    let (reply_read, reply_write) = pipe()?;
    // No environment: the monitor needs none, and every byte of it stays in its memory for the
    // container's life.
    let mut first = Command::new(&path)
        .env_clear()
        .stdin(Stdio::from(request_read))
        .stdout(Stdio::from(reply_write))
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| SysError {
            syscall: "spawn".into(),
            path: path.to_string_lossy().into_owned(),
            subject: None,
            errno: err.raw_os_error().unwrap_or(libc::EIO),
        })?;
    // A monitor that died before reading leaves the write failing with EPIPE: the missing
    // reply below says what happened.
    let _ = wire::write_frame(request_write.as_raw_fd(), &frame);
    drop(request_write);
    let reply = wire::read_frame(reply_read.as_raw_fd());
    // After a failure, the first process has reaped the monitor before it exits.
    let first_exit = first.wait();
    match reply? {
        Some(frame) => wire::decode_reply(&frame),
        None => Err(Error::Monitor(format!(
            "the berth monitor ({}) exited before it reported the start{}",
            path.display(),
            match first_exit {
                Ok(status) if !status.success() => format!(" ({status})"),
                _ => String::new(),
            }
        ))),
    }
}

/// native/berth-monitor beside this addon (its path as it was loaded, from dladdr).
fn monitor_path() -> Result<PathBuf, Error> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let found = unsafe { libc::dladdr(monitor_path as *const c_void, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return Err(Error::Monitor(
            "the berth monitor cannot be found: dladdr does not know where the addon was loaded from".into(),
        ));
    }
    let addon = unsafe { CStr::from_ptr(info.dli_fname) };
    let addon = PathBuf::from(std::ffi::OsStr::from_bytes(addon.to_bytes()));
    Ok(addon.with_file_name(MONITOR))
}

/// A pipe, both ends close-on-exec (Command makes the monitor's own ends its stdin and stdout):
/// (read, write).
fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(SysError::last("pipe2", c"").into());
    }
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
