//! Starting the container process: pipes, clone into new namespaces, and the child's report.
//! spawn returns once the child has exec'd (its report pipe closed at exec: EOF) or fails with
//! the error of the step that failed in the child.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

use super::child::{self, REPORT_SIZE, STEP_EXEC, STEP_STDIO};
use super::prepare::{prepare, Prepared};
use super::spec::SpawnSpec;
use crate::errno::{self, SysError};
use crate::js::Error;

pub struct Spawned {
    pub pid: libc::pid_t,
    /// The parent's ends of the pipes the spec asked for: write to stdin, read stdout/stderr.
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

pub fn spawn(spec: &SpawnSpec) -> Result<Spawned, Error> {
    let prepared = prepare(spec)?;
    let (report_read, report_write) = pipe()?;
    let (stdin_child, stdin) = stdio(spec.stdin, |(read, write)| (read, write))?;
    let (stdout_child, stdout) = stdio(spec.stdout, |(read, write)| (write, read))?;
    let (stderr_child, stderr) = stdio(spec.stderr, |(read, write)| (write, read))?;
    let null = if spec.stdin && spec.stdout && spec.stderr {
        None
    } else {
        Some(open_null()?)
    };
    let fd = |child: &Option<OwnedFd>| {
        child
            .as_ref()
            .or(null.as_ref())
            .map_or(-1, |fd| fd.as_raw_fd())
    };
    let stdio_fds = [fd(&stdin_child), fd(&stdout_child), fd(&stderr_child)];

    let pid = clone_child(&prepared, stdio_fds, report_write.as_raw_fd())?;
    drop((report_write, stdin_child, stdout_child, stderr_child, null));

    match read_report(&report_read) {
        None => Ok(Spawned {
            pid,
            stdin,
            stdout,
            stderr,
        }),
        Some((step, errno)) => {
            // The child exits right after reporting; reap it so that no zombie stays.
            let mut status = 0;
            while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 && last_errno() == libc::EINTR {
            }
            Err(child_error(&prepared, step, errno))
        }
    }
}

/// Whether clone3 failed with ENOSYS once (older kernels, seccomp profiles): use clone then.
static NO_CLONE3: AtomicBool = AtomicBool::new(false);

/// struct clone_args of linux/sched.h, as far as CLONE_ARGS_SIZE_VER0.
#[repr(C)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

/// Clones like fork (the child runs on a copy of this stack) into new namespaces. clone3 first,
/// so that CLONE_INTO_CGROUP can join later.
fn clone_child(
    prepared: &Prepared,
    stdio: [RawFd; 3],
    report: RawFd,
) -> Result<libc::pid_t, Error> {
    // Blocked across clone, so that no Node signal handler runs in the child; the child resets
    // the handlers and unblocks before exec.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let mut pid = -1;
    if !NO_CLONE3.load(Ordering::Relaxed) {
        let mut args = CloneArgs {
            flags: prepared.clone_flags,
            pidfd: 0,
            child_tid: 0,
            parent_tid: 0,
            exit_signal: libc::SIGCHLD as u64,
            stack: 0,
            stack_size: 0,
            tls: 0,
        };
        pid = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &mut args as *mut CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        } as libc::pid_t;
        if pid < 0 && last_errno() == libc::ENOSYS {
            NO_CLONE3.store(true, Ordering::Relaxed);
        }
    }
    if NO_CLONE3.load(Ordering::Relaxed) {
        let flags = prepared.clone_flags as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
        pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) } as libc::pid_t;
    }
    if pid == 0 {
        unsafe { child::run(prepared, stdio, report) }
    }
    let err = last_errno();
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut()) };
    if pid < 0 {
        return Err(SysError {
            syscall: "clone",
            path: String::new(),
            subject: None,
            errno: err,
        }
        .into());
    }
    Ok(pid)
}

/// The child's (step, errno), or None at EOF: it exec'd.
fn read_report(fd: &OwnedFd) -> Option<(u32, i32)> {
    let mut buf = [0u8; REPORT_SIZE];
    let mut got = 0;
    while got < REPORT_SIZE {
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                buf[got..].as_mut_ptr().cast(),
                REPORT_SIZE - got,
            )
        };
        if n < 0 && last_errno() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            return None;
        }
        got += n as usize;
    }
    let step = u32::from_ne_bytes(buf[..4].try_into().ok()?);
    let errno = i32::from_ne_bytes(buf[4..].try_into().ok()?);
    Some((step, errno))
}

fn child_error(prepared: &Prepared, step: u32, errno: i32) -> Error {
    if step == STEP_EXEC {
        let program = &prepared.program;
        let reason = if prepared.path_search && errno == libc::ENOENT {
            "executable file not found in $PATH".to_owned()
        } else {
            lowercase_first(&errno::describe(errno))
        };
        // Docker's exit codes for a command that cannot run: 127 not found, 126 not runnable.
        let exit_code = if matches!(errno, libc::ENOENT | libc::ENOTDIR) {
            127
        } else {
            126
        };
        return Error::Child {
            err: SysError {
                syscall: "exec",
                path: program.clone(),
                subject: None,
                errno,
            },
            message: format!("exec: {program:?}: {reason}"),
            exit_code: Some(exit_code),
        };
    }
    let (syscall, subject, path) = match prepared.steps.get(step as usize) {
        Some(s) => (
            s.label.syscall,
            s.label.subject.clone(),
            s.label.path.clone(),
        ),
        None if step == STEP_STDIO => ("dup2", None, "stdio".to_owned()),
        None => ("start the container", None, String::new()),
    };
    let err = SysError {
        syscall,
        path,
        subject,
        errno,
    };
    let message = err.to_string();
    Error::Child {
        err,
        message,
        exit_code: None,
    }
}

/// Go's (and so Docker's) errno texts are glibc's with a lowercase first letter.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A pipe, both ends close-on-exec: (read, write).
fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(SysError::last("pipe2", c"").into());
    }
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// (the child's end, the parent's end) when `wanted`; `ends` picks them from (read, write).
fn stdio(
    wanted: bool,
    ends: fn((OwnedFd, OwnedFd)) -> (OwnedFd, OwnedFd),
) -> Result<(Option<OwnedFd>, Option<OwnedFd>), Error> {
    if !wanted {
        return Ok((None, None));
    }
    let (child, parent) = ends(pipe()?);
    Ok((Some(child), Some(parent)))
}

fn open_null() -> Result<OwnedFd, Error> {
    let path: &CStr = c"/dev/null";
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(SysError::last("open", path).into());
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn last_errno() -> i32 {
    unsafe { *libc::__errno_location() }
}
