//! berth-monitor: the parent of one detached container process (DESIGN.md, native process
//! model). The addon (src/detach/launch.rs) runs it with the request on stdin and a pipe for the
//! reply on stdout. It forks at once: the first process only waits for the second, the monitor,
//! to have started its process, and exits, so that the monitor is reparented away from the
//! engine. In a session of its own, with its stdio on /dev/null and the signals of a terminal or
//! a closed pipe ignored, the monitor starts the process with the same modules as the addon's
//! `spawn` and `exec` (it becomes the process's parent: the process gets SIGKILL if the monitor
//! dies), replies once it has exec'd, then supervises it (supervise.rs): it keeps its output in
//! the json-file log, serves the clients of its attach socket (attach.rs) when asked for one,
//! and records its exit.
//!
//! Built without N-API (its modules are the addon's, included by path) and small: one thread,
//! its buffers made once at the start, statically linked, and what only the start needed given
//! back before the loop (release_startup_memory).

// Shared with the addon, which uses parts of them the monitor does not (waiting on and
// signalling its own children, terminals' sizes, N-API errors).
#[allow(dead_code)]
#[path = "../container/mod.rs"]
mod container;
#[allow(dead_code)]
#[path = "../errno.rs"]
mod errno;
#[allow(dead_code)]
#[path = "../error.rs"]
mod error;
#[allow(dead_code)]
#[path = "../detach/wire.rs"]
mod wire;

mod attach;
mod attach_protocol;
mod exit_file;
mod json_log;
mod json_text;
mod supervise;
mod timestamp;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use attach::Listener;
use container::spawn;
use errno::SysError;
use error::Error;
use json_log::JsonLog;
use supervise::Supervisor;
use wire::{Request, Started};

const REQUEST: libc::c_int = 0;
const REPLY: libc::c_int = 1;

fn main() {
    unsafe {
        for signal in [libc::SIGPIPE, libc::SIGHUP, libc::SIGINT] {
            libc::signal(signal, libc::SIG_IGN);
        }
        // A descriptor the engine leaked (one without O_CLOEXEC) would stay open for the
        // container's life: the write end of another container's pipe, whose reader would then
        // never see its end. Kernels before 5.9 lack close_range; Node opens with O_CLOEXEC.
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
    }
    let (started_read, started_write) = match pipe() {
        Ok(pipe) => pipe,
        Err(err) => fail(err.into()),
    };
    match unsafe { libc::fork() } {
        0 => drop(started_read),
        -1 => fail(SysError::last("fork", c"the berth monitor").into()),
        monitor => {
            drop(started_write);
            first(monitor, started_read)
        }
    }
    unsafe {
        libc::setsid();
        // Not to keep the engine's working directory (a mount, maybe) busy.
        libc::chdir(c"/".as_ptr());
    }
    let null = match open_null() {
        Ok(null) => null,
        Err(err) => fail(err.into()),
    };
    let started = receive().and_then(start);
    unsafe { libc::dup2(null.as_raw_fd(), REQUEST) };
    let reply = match &started {
        Ok(supervisor) => wire::encode_reply(Ok(&Started {
            pid: supervisor.pid(),
            monitor_pid: unsafe { libc::getpid() },
        })),
        Err(err) => wire::encode_reply(Err(err)),
    };
    // An engine that has gone meanwhile reads no reply: the container runs on all the same.
    let _ = wire::write_frame(REPLY, &reply);
    let Ok(supervisor) = started else {
        std::process::exit(1)
    };
    unsafe {
        libc::write(started_write.as_raw_fd(), [1u8].as_ptr().cast(), 1);
        libc::dup2(null.as_raw_fd(), REPLY);
        libc::dup2(null.as_raw_fd(), libc::STDERR_FILENO);
    }
    drop((null, reply, started_write));
    release_startup_memory();
    supervisor.run()
}

/// The first process, the engine's child: exits once the monitor has started its process
/// (a byte on `started`), or once the monitor has failed and exited (EOF), reaped here. The
/// engine waits for this process: after a failed start, no monitor is left, not even a zombie.
fn first(monitor: libc::pid_t, started: OwnedFd) -> ! {
    let mut byte = 0u8;
    loop {
        match unsafe { libc::read(started.as_raw_fd(), std::ptr::addr_of_mut!(byte).cast(), 1) } {
            1 => unsafe { libc::_exit(0) },
            n if n < 0 && errno() == libc::EINTR => continue,
            _ => break,
        }
    }
    let mut status = 0;
    while unsafe { libc::waitpid(monitor, &mut status, 0) } < 0 && errno() == libc::EINTR {}
    let code = if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    };
    unsafe { libc::_exit(code) }
}

fn receive() -> Result<Request, Error> {
    match wire::read_frame(REQUEST)? {
        Some(frame) => wire::decode_request(&frame),
        None => Err(Error::Monitor(
            "berth-monitor: no request (it is started by berth's native addon)".into(),
        )),
    }
}

/// Starts the process the request describes, as `spawn` or `exec` does in the addon.
fn start(request: Request) -> Result<Supervisor, Error> {
    // Before the start, so that the SIGCHLD of a process that ends at once waits for the loop.
    let exits = supervise::child_exits()?;
    match request {
        Request::Init(spec, detach) => {
            let log = detach.log.as_ref().map(JsonLog::open).transpose()?;
            // Bound before the start, so that a client may connect as soon as the engine has the reply.
            let listener = detach.attach.as_ref().map(Listener::bind).transpose()?;
            let spawned = spawn::spawn(&spec, spawn::NewNetwork::Cloned)?;
            Ok(Supervisor::new(
                spawned,
                exits,
                log,
                detach.exit_path,
                listener,
            ))
        }
        Request::Exec(spec, detach) => {
            let spawned = spawn::exec(&spec)?;
            Ok(Supervisor::new(
                spawned,
                exits,
                None,
                detach.exit_path,
                None,
            ))
        }
    }
}

/// Gives back what only the start needed, for the container's whole life: the heap the spec
/// and the child's program took, and the pages of code that ran once (the start's own, std's
/// and libc's set-up). Those code pages are the executable's, from the page cache: dropped from
/// this process's mappings, they are mapped again if ever run again; only the loop's stay.
fn release_startup_memory() {
    extern "C" {
        // The linker's (GNU ld and lld): where the executable's image starts, where its code ends.
        static __ehdr_start: u8;
        static etext: u8;
    }
    const PAGE: usize = 4096;
    unsafe {
        libc::malloc_trim(0);
        let start = std::ptr::addr_of!(__ehdr_start) as usize & !(PAGE - 1);
        let end = (std::ptr::addr_of!(etext) as usize + PAGE - 1) & !(PAGE - 1);
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
    }
}

/// A pipe, both ends close-on-exec: (read, write).
fn pipe() -> Result<(OwnedFd, OwnedFd), SysError> {
    let mut fds = [0; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(SysError::last("pipe2", c""));
    }
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn open_null() -> Result<OwnedFd, SysError> {
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(SysError::last("open", c"/dev/null"));
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Replies with `err` (when the engine still listens) and exits.
fn fail(err: Error) -> ! {
    let _ = wire::write_frame(REPLY, &wire::encode_reply(Err(&err)));
    std::process::exit(1)
}

/// The error the last failed libc call left.
fn errno() -> i32 {
    unsafe { *libc::__errno_location() }
}
