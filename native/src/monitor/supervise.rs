//! The monitor's loop, on one thread: poll(2) over the process's output (its stdout and stderr
//! pipes, or its terminal's master) and a signalfd for SIGCHLD. Output goes to the json-file
//! log (an exec's has no log: it is read and dropped, so that the process never blocks on a
//! full pipe or terminal). Once the process has ended, what it wrote is drained to EOF (the
//! init's whole PID namespace ends with it, so EOF comes), the log is closed and the exit is
//! recorded; then the monitor exits. An exec's output is not drained: its own children may
//! keep its terminal open for as long as the container runs. An init may have an attach socket
//! (attach.rs), polled in the same loop: its clients get the output too, and the exit last.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

use crate::attach::{self, Attach, Listener};
use crate::attach_protocol;
use crate::container::spawn::Spawned;
use crate::errno::SysError;
use crate::exit_file::{self, Exit};
use crate::json_log::{JsonLog, Stream};

/// One read's worth of output; a line longer than a read is gathered in the log's line buffer.
const READ_SIZE: usize = 16 * 1024;

pub struct Supervisor {
    pid: libc::pid_t,
    /// stdout (or the terminal) and stderr, until each reaches its end.
    outputs: [Option<OwnedFd>; 2],
    exits: OwnedFd,
    log: Option<JsonLog>,
    exit_path: CString,
    attach: Option<Attach>,
}

/// SIGCHLD as a descriptor to poll: blocked, so that it waits in the signalfd until read.
pub fn child_exits() -> Result<OwnedFd, SysError> {
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &set, ptr::null_mut());
        let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
        if fd < 0 {
            return Err(SysError::last("signalfd", c"SIGCHLD"));
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

impl Supervisor {
    pub fn new(
        spawned: Spawned,
        exits: OwnedFd,
        log: Option<JsonLog>,
        exit_path: CString,
        listener: Option<Listener>,
    ) -> Supervisor {
        // A stdin pipe only for the attach socket's clients (src/detach/launch.rs).
        let Spawned {
            pid,
            stdin,
            stdout,
            stderr,
            terminal,
        } = spawned;
        let attach = listener.map(|listener| Attach::new(listener, stdin, terminal.as_ref()));
        Supervisor {
            pid,
            outputs: [terminal.or(stdout), stderr],
            exits,
            log,
            exit_path,
            attach,
        }
    }

    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    pub fn run(mut self) -> ! {
        let mut buffer = [0u8; READ_SIZE];
        let mut exit = None;
        loop {
            // The output waits, unread, for the attach socket's first client (await_client).
            let holding = self.attach.as_mut().is_some_and(Attach::holding);
            let drained = self.log.is_none() || self.outputs.iter().all(Option::is_none);
            if let (Some(exit), true, false) = (&exit, drained, holding) {
                self.finish(exit)
            }
            let output = |index: usize| {
                if holding {
                    None
                } else {
                    self.outputs[index].as_ref()
                }
            };
            let mut fds = [attach::poll_fd(None, 0); 3 + attach::SLOTS];
            fds[0] = poll_fd(output(0));
            fds[1] = poll_fd(output(1));
            fds[2] = poll_fd(if exit.is_none() {
                Some(&self.exits)
            } else {
                None
            });
            if let Some(attach) = &self.attach {
                attach.poll_fds(&mut fds[3..]);
            }
            let timeout = self.attach.as_ref().map_or(-1, Attach::timeout);
            if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) } < 0 {
                // EINTR only: every signal that could interrupt is blocked or ignored.
                continue;
            }
            for (index, stream) in [(0, Stream::Stdout), (1, Stream::Stderr)] {
                if fds[index].revents != 0 {
                    self.pump(index, stream, &mut buffer);
                }
            }
            if fds[2].revents != 0 {
                exit = exit.or_else(|| self.reap());
            }
            if let Some(attach) = &mut self.attach {
                attach.handle(&fds[3..]);
            }
        }
    }

    /// One read of output `index`; at its end (or a terminal's EIO: its last holder has gone)
    /// the stream is closed, and its last line, if cut, logged.
    fn pump(&mut self, index: usize, stream: Stream, buffer: &mut [u8]) {
        let Some(fd) = &self.outputs[index] else {
            return;
        };
        let n = unsafe { libc::read(fd.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
        if n > 0 {
            let output = &buffer[..n as usize];
            if let Some(log) = &mut self.log {
                log.write(stream, output);
            }
            if let Some(attach) = &mut self.attach {
                let kind = match stream {
                    Stream::Stdout => attach_protocol::STDOUT,
                    Stream::Stderr => attach_protocol::STDERR,
                };
                attach.output(kind, output);
            }
            return;
        }
        if n < 0 && matches!(crate::errno(), libc::EINTR | libc::EAGAIN) {
            return;
        }
        self.outputs[index] = None;
        if let Some(log) = &mut self.log {
            log.end(stream);
        }
    }

    /// The process's exit, once SIGCHLD says it has come (the process is the only child).
    fn reap(&mut self) -> Option<Exit> {
        let mut info = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
        while unsafe { libc::read(self.exits.as_raw_fd(), info.as_mut_ptr().cast(), info.len()) }
            > 0
        {}
        let mut status = 0;
        if unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } != self.pid {
            return None;
        }
        Some(if libc::WIFSIGNALED(status) {
            Exit::Signal(libc::WTERMSIG(status))
        } else {
            Exit::Code(libc::WEXITSTATUS(status))
        })
    }

    fn finish(mut self, exit: &Exit) -> ! {
        drop(self.log);
        // Whoever finds the exit recorded finds the socket gone.
        if let Some(attach) = &mut self.attach {
            attach.stop_listening();
        }
        let record = exit_file::record(exit);
        // Nobody is left to tell of a failure: the engine then finds no exit file, and says
        // the exit was lost, as when the monitor dies.
        let recorded = exit_file::write(&self.exit_path, &record);
        if let Some(attach) = self.attach {
            attach.send_exit(&record);
        }
        std::process::exit(if recorded.is_ok() { 0 } else { 1 })
    }
}

fn poll_fd(fd: Option<&OwnedFd>) -> libc::pollfd {
    libc::pollfd {
        // poll(2) skips negative descriptors.
        fd: fd.map_or(-1 as RawFd, AsRawFd::as_raw_fd),
        events: libc::POLLIN,
        revents: 0,
    }
}
