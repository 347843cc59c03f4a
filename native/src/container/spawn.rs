//! Starting container processes (an init, or an exec into a running container): pipes, the
//! cgroup placement, clone, and the child's report.
//! spawn returns once the child has exec'd (its report pipe closed at exec: EOF) or fails with
//! the error of the step that failed in the child.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

use super::child::{self, REPORT_SIZE, STEP_EXEC, STEP_STDIO};
use super::netns_pool;
use super::prepare::{prepare, prepare_exec, Prepared};
use super::spec::{CgroupPlacement, ExecSpec, ProcessSpec, SpawnSpec};
use crate::errno::{self, SysError};
use crate::error::Error;

pub struct Spawned {
    pub pid: libc::pid_t,
    /// The parent's ends of the pipes the spec asked for: write to stdin, read stdout/stderr.
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    /// The master of the process's pseudo-terminal, when it has one.
    pub terminal: Option<OwnedFd>,
}

/// Where a container's new network namespace comes from (network: none).
#[derive(Clone, Copy)]
pub enum NewNetwork {
    /// Its clone makes it.
    // Used by the monitor binary only (the addon starts with Pooled).
    #[allow(dead_code)]
    Cloned,
    /// Made ahead of time (netns_pool.rs) when one is ready, else cloned: for a process that
    /// starts many containers (the addon), not for one that starts one (the monitor).
    Pooled,
}

/// Starts a container's init: new namespaces, its root filesystem, its cgroup.
pub fn spawn(spec: &SpawnSpec, network: NewNetwork) -> Result<Spawned, Error> {
    let mut prepared = prepare(spec)?;
    if matches!(network, NewNetwork::Pooled) && prepared.makes_network() {
        if let Some(netns) = netns_pool::take() {
            prepared.join_network(netns);
        }
    }
    start(prepared, &spec.process, &spec.cgroup)
}

/// Starts a process in the namespaces and cgroup of a running container.
pub fn exec(spec: &ExecSpec) -> Result<Spawned, Error> {
    start(prepare_exec(spec)?, &spec.process, &spec.cgroup)
}

fn start(
    mut prepared: Prepared,
    process: &ProcessSpec,
    cgroup: &CgroupPlacement,
) -> Result<Spawned, Error> {
    let placement = Placement::open(cgroup)?;
    let (report_read, report_write) = pipe()?;
    let (stdin_child, stdin) = stdio(process.stdin, |(read, write)| (read, write))?;
    let (stdout_child, stdout) = stdio(process.stdout, |(read, write)| (write, read))?;
    let (stderr_child, stderr) = stdio(process.stderr, |(read, write)| (write, read))?;
    let null = if process.stdin && process.stdout && process.stderr {
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

    let (pid, joins) = clone_child(&prepared, stdio_fds, report_write.as_raw_fd(), &placement)?;
    drop((report_write, stdin_child, stdout_child, stderr_child, null));
    let console = prepared.console.take().map(|(parent, _child)| parent);

    // None when the child failed before it sent the master: its report says why.
    let terminal = match console.as_ref().map(receive_fd) {
        Some(Err(err)) => {
            kill_and_reap(pid);
            return Err(err.into());
        }
        Some(Ok(fd)) => fd,
        None => None,
    };

    match read_report(&report_read) {
        None => Ok(Spawned {
            pid,
            stdin,
            stdout,
            stderr,
            terminal,
        }),
        Some((step, errno)) => {
            // The child exits right after reporting; reap it so that no zombie stays.
            reap(pid);
            let join = step
                .checked_sub(child::STEP_JOIN)
                .and_then(|index| joins.get(index as usize));
            match join {
                Some(path) => Err(join_error(pid, path, errno)),
                None => Err(child_error(&prepared, step, errno)),
            }
        }
    }
}

/// The descriptor the child sent (SCM_RIGHTS), or None when it closed the socket first.
fn receive_fd(socket: &OwnedFd) -> Result<Option<OwnedFd>, SysError> {
    #[repr(C)]
    struct Control {
        header: libc::cmsghdr,
        fd: libc::c_int,
        _pad: libc::c_int,
    }
    let mut byte = 0u8;
    let mut iov = libc::iovec {
        iov_base: ptr::addr_of_mut!(byte).cast(),
        iov_len: 1,
    };
    let mut control: Control = unsafe { std::mem::zeroed() };
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = ptr::addr_of_mut!(control).cast();
    message.msg_controllen = std::mem::size_of::<Control>() as _;
    loop {
        let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut message, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 && last_errno() == libc::EINTR {
            continue;
        }
        if n < 0 {
            return Err(SysError::last("recvmsg", c"the terminal's master"));
        }
        if n == 0 || message.msg_controllen == 0 || control.header.cmsg_type != libc::SCM_RIGHTS {
            return Ok(None);
        }
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(control.fd) }));
    }
}

/// Sets a terminal's size (TIOCSWINSZ on its master); the process gets SIGWINCH.
pub fn resize(fd: RawFd, cols: u16, rows: u16) -> Result<(), SysError> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &size) } != 0 {
        return Err(SysError::last("ioctl TIOCSWINSZ", c""));
    }
    Ok(())
}

fn reap(pid: libc::pid_t) {
    let mut status = 0;
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 && last_errno() == libc::EINTR {}
}

fn kill_and_reap(pid: libc::pid_t) {
    unsafe { libc::kill(pid, libc::SIGKILL) };
    reap(pid);
}

/// The cgroup files and directory a placement needs, opened before clone so that a cgroup that
/// does not exist fails before any process does.
struct Placement {
    /// v1: per hierarchy, the file the child writes "0" to (itself) and the cgroup.procs path
    /// that names it in errors. The file is the hierarchy's `tasks` when it has one: a thread
    /// moving itself skips the kernel's cgroup_threadgroup_rwsem, whose write side waits for an
    /// RCU grace period (up to ~10 ms here) on every cgroup.procs write. The child is
    /// single-threaded, so moving its one thread moves the process.
    joins: Vec<(OwnedFd, String)>,
    /// v2: the cgroup's directory, for clone3's CLONE_INTO_CGROUP.
    dir: Option<(OwnedFd, String)>,
}

impl Placement {
    fn open(cgroup: &CgroupPlacement) -> Result<Placement, Error> {
        let joins = cgroup
            .procs_files
            .iter()
            .map(|path| {
                let name = path.to_string_lossy().into_owned();
                let tasks = name
                    .strip_suffix("/cgroup.procs")
                    .and_then(|dir| CString::new(format!("{dir}/tasks")).ok())
                    .and_then(|tasks| open(&tasks, libc::O_WRONLY).ok());
                let fd = match tasks {
                    Some(fd) => fd,
                    None => open(path, libc::O_WRONLY)?,
                };
                Ok((fd, name))
            })
            .collect::<Result<_, Error>>()?;
        let dir = match &cgroup.dir {
            Some(path) => Some((
                open(path, libc::O_RDONLY | libc::O_DIRECTORY)?,
                path.to_string_lossy().into_owned(),
            )),
            None => None,
        };
        Ok(Placement { joins, dir })
    }

    /// The v2 directory's cgroup.procs, for a child that clone3 could not create in it.
    fn dir_procs(&self) -> Result<Option<(OwnedFd, String)>, Error> {
        let Some((dir, path)) = &self.dir else {
            return Ok(None);
        };
        let procs = format!("{path}/cgroup.procs");
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                c"cgroup.procs".as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let err = SysError::last("open", c"");
            return Err(SysError { path: procs, ..err }.into());
        }
        Ok(Some((unsafe { OwnedFd::from_raw_fd(fd) }, procs)))
    }
}

fn open(path: &CStr, flags: libc::c_int) -> Result<OwnedFd, Error> {
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(SysError::last("open", path).into());
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `join cgroup: write pid 1234 to /sys/fs/cgroup/memory/berth/x/cgroup.procs: ENOSPC (...)`.
fn join_error(pid: libc::pid_t, path: &str, errno: i32) -> Error {
    let err = SysError {
        syscall: "write".into(),
        path: path.to_owned(),
        subject: None,
        errno,
    };
    let message = format!(
        "join cgroup: write pid {pid} to {path}: {} ({})",
        err.code(),
        errno::describe(errno)
    );
    Error::Child {
        err,
        message,
        exit_code: None,
    }
}

/// Whether clone3 failed with ENOSYS once (older kernels, seccomp profiles): use clone then.
static NO_CLONE3: AtomicBool = AtomicBool::new(false);
/// Whether clone3 refused CLONE_INTO_CGROUP once (kernels before 5.7): write cgroup.procs then.
static NO_CLONE_INTO_CGROUP: AtomicBool = AtomicBool::new(false);

/// linux/sched.h; libc 0.2.139 lacks it.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// struct clone_args of linux/sched.h, as far as CLONE_ARGS_SIZE_VER2 (the cgroup member).
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
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Starts the child in new namespaces. With a v2 cgroup directory: clone3 CLONE_INTO_CGROUP,
/// like fork (the child runs on a copy of this process's memory). Otherwise, or where the kernel
/// lacks it: clone with CLONE_VM | CLONE_VFORK on a stack of its own (posix_spawn's technique),
/// which copies no page tables and leaves exec no copy of them to tear down; this thread waits
/// until the child has exec'd or exited. That child joins its cgroups itself, before any step.
/// Returns the pid and the cgroup files the child joins (which its report's join steps index).
fn clone_child(
    prepared: &Prepared,
    stdio: [RawFd; 3],
    report: RawFd,
    placement: &Placement,
) -> Result<(libc::pid_t, Vec<String>), Error> {
    // An exec's child starts in the container's PID namespace: this thread joins it for its
    // children only, and returns to its own right after clone.
    let own_pid_ns = match &prepared.pid_ns {
        Some(target) => {
            let own = open(c"/proc/thread-self/ns/pid", libc::O_RDONLY)?;
            if unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
                return Err(SysError::last("setns", c"the container's PID namespace").into());
            }
            Some(own)
        }
        None => None,
    };
    let result = clone_in_namespace(prepared, stdio, report, placement);
    if let Some(own) = own_pid_ns {
        // Failing here would leave every later child of this thread in the container: never
        // expected of a namespace this thread was in a moment ago.
        if unsafe { libc::setns(own.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
            let restore = SysError::last("setns", c"this process's own PID namespace");
            if let Ok((pid, _)) = result {
                kill_and_reap(pid);
            }
            return Err(restore.into());
        }
    }
    result
}

fn clone_in_namespace(
    prepared: &Prepared,
    stdio: [RawFd; 3],
    report: RawFd,
    placement: &Placement,
) -> Result<(libc::pid_t, Vec<String>), Error> {
    // Blocked across clone, so that no Node signal handler runs in the child; the child resets
    // the handlers and unblocks before exec.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let result = clone_blocked(prepared, stdio, report, placement);
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut()) };
    result
}

fn clone_blocked(
    prepared: &Prepared,
    stdio: [RawFd; 3],
    report: RawFd,
    placement: &Placement,
) -> Result<(libc::pid_t, Vec<String>), Error> {
    if let Some((dir, _)) = &placement.dir {
        if !NO_CLONE3.load(Ordering::Relaxed) && !NO_CLONE_INTO_CGROUP.load(Ordering::Relaxed) {
            let mut args = CloneArgs {
                flags: prepared.clone_flags | CLONE_INTO_CGROUP,
                pidfd: 0,
                child_tid: 0,
                parent_tid: 0,
                exit_signal: libc::SIGCHLD as u64,
                stack: 0,
                stack_size: 0,
                tls: 0,
                set_tid: 0,
                set_tid_size: 0,
                cgroup: dir.as_raw_fd() as u64,
            };
            let pid = unsafe { clone3(&mut args) };
            let err = last_errno();
            if pid == 0 {
                unsafe { child::run(prepared, stdio, report, &[]) }
            }
            if pid > 0 {
                return Ok((pid, Vec::new()));
            }
            match err {
                libc::E2BIG | libc::EINVAL => NO_CLONE_INTO_CGROUP.store(true, Ordering::Relaxed),
                libc::ENOSYS => NO_CLONE3.store(true, Ordering::Relaxed),
                _ => {
                    return Err(SysError {
                        syscall: "clone3 into cgroup".into(),
                        path: String::new(),
                        subject: None,
                        errno: err,
                    }
                    .into())
                }
            }
        }
    }

    let dir_procs = placement.dir_procs()?;
    let joins: Vec<&(OwnedFd, String)> = placement.joins.iter().chain(&dir_procs).collect();
    let join_fds: Vec<RawFd> = joins.iter().map(|(fd, _)| fd.as_raw_fd()).collect();
    let names = joins.into_iter().map(|(_, name)| name.clone()).collect();
    let stack = ChildStack::new()?;
    let args = ChildArgs {
        prepared,
        stdio,
        report,
        joins: &join_fds,
    };
    let flags =
        prepared.clone_flags as libc::c_int | libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
    // The child runs on `stack` in this memory until it execs or exits; CLONE_VFORK holds this
    // thread until then, so `args`, `prepared` and the stack outlive its use of them.
    let pid = unsafe {
        libc::clone(
            child_entry,
            stack.top(),
            flags,
            ptr::addr_of!(args) as *mut libc::c_void,
        )
    };
    if pid < 0 {
        return Err(SysError::last("clone", c"").into());
    }
    Ok((pid, names))
}

struct ChildArgs<'a> {
    prepared: &'a Prepared,
    stdio: [RawFd; 3],
    report: RawFd,
    joins: &'a [RawFd],
}

extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: the ChildArgs clone_blocked passed, alive while this thread of execution runs.
    unsafe {
        let args = &*(arg as *const ChildArgs);
        child::run(args.prepared, args.stdio, args.report, args.joins)
    }
}

/// The stack a CLONE_VM child runs on, with a guard page below it.
struct ChildStack {
    base: *mut libc::c_void,
}

const STACK_SIZE: usize = 256 * 1024;
const GUARD_SIZE: usize = 4096;

impl ChildStack {
    fn new() -> Result<ChildStack, Error> {
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(SysError::last("mmap", c"the child's stack").into());
        }
        let stack = ChildStack { base };
        if unsafe { libc::mprotect(base, GUARD_SIZE, libc::PROT_NONE) } != 0 {
            return Err(SysError::last("mprotect", c"the child's stack").into());
        }
        Ok(stack)
    }

    fn top(&self) -> *mut libc::c_void {
        // mmap's pages are aligned far beyond the 16 bytes the ABIs ask of a stack.
        unsafe { self.base.cast::<u8>().add(STACK_SIZE).cast() }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        unsafe { libc::munmap(self.base, STACK_SIZE) };
    }
}

unsafe fn clone3(args: &mut CloneArgs) -> libc::pid_t {
    libc::syscall(
        libc::SYS_clone3,
        args as *mut CloneArgs,
        std::mem::size_of::<CloneArgs>(),
    ) as libc::pid_t
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
                syscall: "exec".into(),
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
        syscall: syscall.into(),
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
    open(c"/dev/null", libc::O_RDWR)
}

fn last_errno() -> i32 {
    unsafe { *libc::__errno_location() }
}
