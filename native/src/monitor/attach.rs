//! The attach socket of a detached init (`docker attach`; the protocol is attach_protocol.rs).
//! Bound before the process starts; then, in the monitor's one poll loop (supervise.rs), each
//! connected client gets the process's output besides the log, its stdin goes to the process
//! (a pipe, or the terminal's master), its resizes to the terminal, and at the end it gets the
//! exit. Every descriptor here is non-blocking: no client can stall the loop.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::time::{Duration, Instant};

use crate::attach_protocol::{self as protocol, Frame, HEADER_SIZE, MAX_CLIENT_PAYLOAD};
use crate::container::spawn;
use crate::errno::SysError;
use crate::wire::AttachSocket;

/// Clients attached at once; one more is closed as soon as it connects.
const MAX_CLIENTS: usize = 4;
/// The descriptors the loop polls for the attach socket: the listener, the process's stdin,
/// the clients.
pub const SLOTS: usize = 2 + MAX_CLIENTS;
/// Output waiting for one client; what would go past it is dropped for that client.
const CLIENT_BUFFER: usize = 64 * 1024;
/// How long the output waits for the first client (`await_client`): one that never comes (its
/// engine process died right after the start) must not stall the container for long.
const FIRST_CLIENT_WAIT: Duration = Duration::from_secs(10);
/// How long the exit may take to reach a client that does not read.
const EXIT_SEND_TIMEOUT_SECONDS: libc::time_t = 1;
/// A client's input buffer: one whole frame of the largest size.
const CLIENT_INPUT: usize = HEADER_SIZE + MAX_CLIENT_PAYLOAD;

/// The listening socket, bound before the process starts (a socket that cannot be bound fails
/// the start); dropped, it removes its path.
pub struct Listener {
    socket: OwnedFd,
    path: CString,
    stdin: bool,
    await_client: bool,
}

impl Listener {
    pub fn bind(spec: &AttachSocket) -> Result<Listener, SysError> {
        let flags = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        let fd = unsafe { libc::socket(libc::AF_UNIX, flags, 0) };
        if fd < 0 {
            return Err(SysError::last("socket", &spec.path));
        }
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        // Bound by its name from its directory: the whole path may be longer than sun_path.
        let bytes = spec.path.to_bytes();
        let (directory, name) = match bytes.iter().rposition(|b| *b == b'/') {
            Some(0) => (Some(CString::from(c"/")), &bytes[1..]),
            Some(at) => (CString::new(&bytes[..at]).ok(), &bytes[at + 1..]),
            None => (None, bytes),
        };
        let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        address.sun_family = libc::AF_UNIX as libc::sa_family_t;
        if name.is_empty() || name.len() >= address.sun_path.len() {
            return Err(SysError {
                syscall: "bind".into(),
                path: spec.path.to_string_lossy().into_owned(),
                subject: None,
                errno: libc::ENAMETOOLONG,
            });
        }
        for (to, from) in address.sun_path.iter_mut().zip(name) {
            *to = *from as libc::c_char;
        }
        if let Some(directory) = &directory {
            if unsafe { libc::chdir(directory.as_ptr()) } != 0 {
                return Err(SysError::last("chdir", directory));
            }
        }
        let bound = unsafe {
            // A socket left by a monitor that was killed.
            libc::unlink(address.sun_path.as_ptr());
            // Only the engine's user may attach: the socket is the container's stdin.
            let umask = libc::umask(0o177);
            let bound = libc::bind(
                socket.as_raw_fd(),
                ptr::addr_of!(address).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            );
            libc::umask(umask);
            bound
        };
        let failed = (bound != 0).then(|| SysError::last("bind", &spec.path));
        unsafe { libc::chdir(c"/".as_ptr()) };
        if let Some(err) = failed {
            return Err(err);
        }
        let listener = Listener {
            socket,
            path: spec.path.clone(),
            stdin: spec.stdin,
            await_client: spec.await_client,
        };
        if unsafe { libc::listen(listener.socket.as_raw_fd(), MAX_CLIENTS as libc::c_int) } != 0 {
            return Err(SysError::last("listen", &spec.path));
        }
        Ok(listener)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        unsafe { libc::unlink(self.path.as_ptr()) };
    }
}

struct Client {
    socket: OwnedFd,
    /// What it sent that is not a whole frame yet.
    input: Vec<u8>,
    /// Frames not sent yet: at most CLIENT_BUFFER bytes.
    output: Vec<u8>,
}

pub struct Attach {
    /// None once the process has ended: nobody new connects.
    listener: Option<Listener>,
    /// Where the clients' stdin goes: the process's stdin pipe, or its terminal's master (a
    /// descriptor of its own, which also takes the resizes).
    input: Option<OwnedFd>,
    /// The clients' stdin goes to the process (else it is dropped).
    stdin: bool,
    terminal: bool,
    /// Stdin received and not written yet: the process is not reading.
    pending: Vec<u8>,
    /// A client closed stdin: the pipe is closed once `pending` is written.
    closing: bool,
    clients: [Option<Client>; MAX_CLIENTS],
    /// Until when the output waits for the first client.
    hold: Option<Instant>,
}

impl Attach {
    /// `stdin`: the process's stdin pipe (when it has one); `terminal`: its terminal's master.
    pub fn new(listener: Listener, stdin: Option<OwnedFd>, terminal: Option<&OwnedFd>) -> Attach {
        let input = match terminal {
            // Without a descriptor of its own (EMFILE), there is no stdin nor resizing.
            Some(master) => {
                match unsafe { libc::fcntl(master.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) } {
                    fd if fd >= 0 => Some(unsafe { OwnedFd::from_raw_fd(fd) }),
                    _ => None,
                }
            }
            None => stdin,
        };
        if let Some(fd) = &input {
            set_blocking(fd.as_raw_fd(), false);
        }
        Attach {
            hold: listener
                .await_client
                .then(|| Instant::now() + FIRST_CLIENT_WAIT),
            stdin: listener.stdin,
            listener: Some(listener),
            input,
            terminal: terminal.is_some(),
            pending: Vec::new(),
            closing: false,
            clients: Default::default(),
        }
    }

    /// Whether the output still waits for the first client.
    pub fn holding(&mut self) -> bool {
        if self.hold.is_some_and(|until| Instant::now() >= until) {
            self.hold = None;
        }
        self.hold.is_some()
    }

    /// poll(2)'s timeout: when the wait for the first client ends; else none.
    pub fn timeout(&self) -> libc::c_int {
        match self.hold {
            Some(until) => {
                let left = until.saturating_duration_since(Instant::now()).as_millis();
                (left + 1).min(i32::MAX as u128) as libc::c_int
            }
            None => -1,
        }
    }

    /// What the loop polls for the socket (SLOTS entries). Clients are read only while no
    /// stdin waits to be written.
    pub fn poll_fds(&self, fds: &mut [libc::pollfd]) {
        fds[0] = poll_fd(
            self.listener.as_ref().map(|l| l.socket.as_raw_fd()),
            libc::POLLIN,
        );
        let blocked = !self.pending.is_empty();
        fds[1] = poll_fd(
            self.input
                .as_ref()
                .filter(|_| blocked)
                .map(AsRawFd::as_raw_fd),
            libc::POLLOUT,
        );
        for (fd, client) in fds[2..].iter_mut().zip(&self.clients) {
            *fd = match client {
                Some(client) => {
                    let read = if blocked { 0 } else { libc::POLLIN };
                    let write = if client.output.is_empty() {
                        0
                    } else {
                        libc::POLLOUT
                    };
                    poll_fd(Some(client.socket.as_raw_fd()), read | write)
                }
                None => poll_fd(None, 0),
            };
        }
    }

    /// Acts on what poll reported in `fds` (as poll_fds filled them).
    pub fn handle(&mut self, fds: &[libc::pollfd]) {
        if fds[1].revents != 0 {
            self.write_stdin();
        }
        for (index, fd) in fds[2..].iter().enumerate() {
            if fd.revents == 0 {
                continue;
            }
            let Some(mut client) = self.clients[index].take() else {
                continue;
            };
            let alive = (fd.revents & libc::POLLOUT == 0 || flush(&mut client))
                && if fd.revents & libc::POLLIN != 0 {
                    self.receive(&mut client)
                } else {
                    // Hung up while not read (stdin blocked): what it sent last is lost.
                    fd.revents & (libc::POLLHUP | libc::POLLERR) == 0
                };
            if alive {
                self.clients[index] = Some(client);
            }
        }
        // Last: a client accepted now must not take the events of the one its slot had.
        if fds[0].revents != 0 {
            self.accept();
        }
    }

    /// Output of the process, for every client (`kind`: protocol::STDOUT or STDERR).
    pub fn output(&mut self, kind: u8, data: &[u8]) {
        for slot in &mut self.clients {
            let Some(client) = slot else { continue };
            // Dropped for this client only: it is not keeping up.
            if client.output.len() + HEADER_SIZE + data.len() > CLIENT_BUFFER {
                continue;
            }
            client
                .output
                .extend_from_slice(&protocol::header(kind, data.len()));
            client.output.extend_from_slice(data);
            if !flush(client) {
                *slot = None;
            }
        }
    }

    /// The process has ended: the socket goes, so that nobody new connects.
    pub fn stop_listening(&mut self) {
        self.listener = None;
    }

    /// Sends each client what output waits for it and the exit (`record`, the exit file's),
    /// waiting a little for one that does not read; then closes them.
    pub fn send_exit(self, record: &[u8]) {
        for mut client in self.clients.into_iter().flatten() {
            set_blocking(client.socket.as_raw_fd(), true);
            let timeout = libc::timeval {
                tv_sec: EXIT_SEND_TIMEOUT_SECONDS,
                tv_usec: 0,
            };
            unsafe {
                libc::setsockopt(
                    client.socket.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_SNDTIMEO,
                    ptr::addr_of!(timeout).cast(),
                    std::mem::size_of::<libc::timeval>() as libc::socklen_t,
                );
            }
            client
                .output
                .extend_from_slice(&protocol::header(protocol::EXIT, record.len()));
            client.output.extend_from_slice(record);
            flush(&mut client);
        }
    }

    fn accept(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        loop {
            let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
            let fd = unsafe {
                libc::accept4(
                    listener.socket.as_raw_fd(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                    flags,
                )
            };
            if fd < 0 {
                return;
            }
            let socket = unsafe { OwnedFd::from_raw_fd(fd) };
            // With every slot taken, it is closed at once.
            if let Some(slot) = self.clients.iter_mut().find(|slot| slot.is_none()) {
                *slot = Some(Client {
                    socket,
                    input: Vec::with_capacity(CLIENT_INPUT),
                    output: Vec::with_capacity(CLIENT_BUFFER),
                });
                self.hold = None;
            }
        }
    }

    /// One read of what `client` sent, and its whole frames acted on; false once it has gone
    /// or broken the protocol.
    fn receive(&mut self, client: &mut Client) -> bool {
        let start = client.input.len();
        client.input.resize(CLIENT_INPUT, 0);
        let n = unsafe {
            libc::read(
                client.socket.as_raw_fd(),
                client.input[start..].as_mut_ptr().cast(),
                CLIENT_INPUT - start,
            )
        };
        client.input.truncate(start + n.max(0) as usize);
        if n == 0 {
            return false;
        }
        if n < 0 {
            return matches!(crate::errno(), libc::EINTR | libc::EAGAIN);
        }
        let mut taken = 0;
        loop {
            match protocol::next_frame(&client.input[taken..]) {
                Err(()) => return false,
                Ok(None) => break,
                Ok(Some((frame, size))) => {
                    taken += size;
                    self.apply(frame);
                }
            }
        }
        client.input.drain(..taken);
        self.write_stdin();
        true
    }

    fn apply(&mut self, frame: Frame) {
        match frame {
            Frame::Stdin(data) => {
                if self.stdin && self.input.is_some() {
                    self.pending.extend_from_slice(data);
                }
            }
            Frame::Resize { cols, rows } => {
                if let (true, Some(master)) = (self.terminal, &self.input) {
                    let _ = spawn::resize(master.as_raw_fd(), cols, rows);
                }
            }
            Frame::Close => {
                if self.stdin && !self.terminal {
                    self.closing = true;
                }
            }
        }
    }

    /// Writes what stdin it can without blocking; the rest waits for POLLOUT.
    fn write_stdin(&mut self) {
        let Some(fd) = self.input.as_ref().map(AsRawFd::as_raw_fd) else {
            self.pending.clear();
            return;
        };
        while !self.pending.is_empty() {
            let n = unsafe { libc::write(fd, self.pending.as_ptr().cast(), self.pending.len()) };
            if n > 0 {
                self.pending.drain(..n as usize);
                continue;
            }
            match crate::errno() {
                libc::EINTR => continue,
                libc::EAGAIN => return,
                // EPIPE: the process closed its stdin; EIO: the terminal's last holder has gone.
                _ => {
                    self.pending.clear();
                    if !self.terminal {
                        self.input = None;
                    }
                }
            }
        }
        if self.closing && !self.terminal {
            self.input = None;
            self.closing = false;
        }
    }
}

/// Sends what it can of the client's output; false once the client has gone.
fn flush(client: &mut Client) -> bool {
    while !client.output.is_empty() {
        let n = unsafe {
            libc::send(
                client.socket.as_raw_fd(),
                client.output.as_ptr().cast(),
                client.output.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n > 0 {
            client.output.drain(..n as usize);
            continue;
        }
        match crate::errno() {
            libc::EINTR => continue,
            libc::EAGAIN => return true,
            _ => return false,
        }
    }
    true
}

fn set_blocking(fd: RawFd, blocking: bool) {
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            let flags = if blocking {
                flags & !libc::O_NONBLOCK
            } else {
                flags | libc::O_NONBLOCK
            };
            libc::fcntl(fd, libc::F_SETFL, flags);
        }
    }
}

pub fn poll_fd(fd: Option<RawFd>, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        // poll(2) skips negative descriptors.
        fd: fd.unwrap_or(-1),
        events,
        revents: 0,
    }
}
