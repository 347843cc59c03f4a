//! The monitor's protocol. The addon sends one request down the monitor's stdin: the spec it
//! parsed (so the monitor needs no JSON parser) and what the monitor keeps for it (the log, the
//! exit file); the monitor replies on its stdout with the started pids or the error the start
//! failed with, which the addon throws as if the start had been its own.
//!
//! A frame is the protocol's name, a u32 length and the payload: native-endian integers and
//! length-prefixed byte strings. Both ends come from one build on one machine; the name carries
//! a hash of this file (build.rs), so an addon and a monitor from different builds (a rebuild
//! while an engine runs) fail with a clear error instead of misreading each other.

use std::ffi::{CStr, CString};
use std::os::fd::RawFd;

use crate::container::spec::{
    CgroupPlacement, ExecSpec, ExtraMount, ExtraMountKind, Network, ProcessSpec, Rlimit,
    RootfsMount, SpawnSpec,
};
use crate::errno::SysError;
use crate::error::Error;

const PROTOCOL: &[u8] = concat!("berth-monitor/", env!("BERTH_WIRE_HASH")).as_bytes();

/// Where a detached init's output goes: Docker's json-file log, rotated at `max_size` bytes
/// (0: never) keeping `max_file` files.
pub struct LogFile {
    pub path: CString,
    pub max_size: u64,
    pub max_file: u32,
}

/// The attach socket of a detached init (src/monitor/attach.rs): where the monitor listens,
/// whether it keeps the process's stdin for its clients (else /dev/null), and whether the
/// output waits for the first client (a client that attaches right after the start, as
/// `docker run -it` does, then misses none of it).
pub struct AttachSocket {
    pub path: CString,
    pub stdin: bool,
    pub await_client: bool,
}

/// What the monitor keeps for the engine: the output (an exec's is discarded), the exit, and
/// for an init, maybe, an attach socket.
pub struct Detach {
    pub log: Option<LogFile>,
    pub exit_path: CString,
    pub attach: Option<AttachSocket>,
}

pub enum Request {
    Init(SpawnSpec, Detach),
    Exec(ExecSpec, Detach),
}

pub struct Started {
    pub pid: libc::pid_t,
    pub monitor_pid: libc::pid_t,
}

pub fn encode_request(request: &Request) -> Vec<u8> {
    let mut out = Out::default();
    match request {
        Request::Init(spec, detach) => {
            out.u8(0);
            spawn_spec(&mut out, spec);
            detach_options(&mut out, detach);
        }
        Request::Exec(spec, detach) => {
            out.u8(1);
            let ExecSpec {
                pid,
                cgroup,
                process,
            } = spec;
            out.i32(*pid);
            cgroup_placement(&mut out, cgroup);
            process_spec(&mut out, process);
            detach_options(&mut out, detach);
        }
    }
    out.frame()
}

pub fn decode_request(frame: &[u8]) -> Result<Request, Error> {
    let mut input = In::frame(frame)?;
    let request = match input.u8()? {
        0 => Request::Init(input.spawn_spec()?, input.detach()?),
        1 => Request::Exec(
            ExecSpec {
                pid: input.i32()?,
                cgroup: input.cgroup_placement()?,
                process: input.process_spec()?,
            },
            input.detach()?,
        ),
        _ => return Err(malformed()),
    };
    input.end()?;
    Ok(request)
}

pub fn encode_reply(reply: Result<&Started, &Error>) -> Vec<u8> {
    let mut out = Out::default();
    match reply {
        Ok(started) => {
            out.u8(0);
            out.i32(started.pid);
            out.i32(started.monitor_pid);
        }
        Err(err) => {
            out.u8(1);
            error(&mut out, err);
        }
    }
    out.frame()
}

/// The reply in `frame`; `Err` is the start's error, or the protocol's when the frame is not a
/// reply.
pub fn decode_reply(frame: &[u8]) -> Result<Started, Error> {
    let mut input = In::frame(frame)?;
    let reply = match input.u8()? {
        0 => Ok(Started {
            pid: input.i32()?,
            monitor_pid: input.i32()?,
        }),
        1 => Err(input.error()?),
        _ => return Err(malformed()),
    };
    input.end()?;
    reply
}

/// Reads one frame from `fd` (blocking); None when the writer closed it before sending any.
pub fn read_frame(fd: RawFd) -> Result<Option<Vec<u8>>, Error> {
    let mut frame = vec![0; HEADER_SIZE];
    match read_exact(fd, &mut frame)? {
        0 => return Ok(None),
        n if n < HEADER_SIZE => return Err(malformed()),
        _ => {}
    }
    if !frame.starts_with(PROTOCOL) {
        return Err(other_build());
    }
    let length = In(&frame[PROTOCOL.len()..]).u32()? as usize;
    frame.resize(HEADER_SIZE + length, 0);
    if read_exact(fd, &mut frame[HEADER_SIZE..])? < length {
        return Err(malformed());
    }
    Ok(Some(frame))
}

/// Writes all of `frame` to `fd` (blocking).
pub fn write_frame(fd: RawFd, mut frame: &[u8]) -> Result<(), SysError> {
    while !frame.is_empty() {
        let n = unsafe { libc::write(fd, frame.as_ptr().cast(), frame.len()) };
        if n < 0 {
            let err = SysError::last("write", c"the berth monitor's pipe");
            if err.errno == libc::EINTR {
                continue;
            }
            return Err(err);
        }
        frame = &frame[n as usize..];
    }
    Ok(())
}

/// Fills `buf` unless EOF comes first; returns how many bytes it read.
fn read_exact(fd: RawFd, buf: &mut [u8]) -> Result<usize, SysError> {
    let mut got = 0;
    while got < buf.len() {
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        if n < 0 {
            let err = SysError::last("read", c"the berth monitor's pipe");
            if err.errno == libc::EINTR {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            break;
        }
        got += n as usize;
    }
    Ok(got)
}

const HEADER_SIZE: usize = PROTOCOL.len() + 4;

fn other_build() -> Error {
    Error::Monitor(
        "the berth monitor (native/berth-monitor) is from another build than the addon: rebuild both with native/build.sh".into(),
    )
}

fn malformed() -> Error {
    Error::Monitor(
        "berth-monitor: a malformed message (the addon and the monitor are from different builds?): rebuild with native/build.sh".into(),
    )
}

// Each encoder destructures its struct completely: a field added to the spec fails to compile
// here until the protocol carries it (and this file, hence the protocol's hash, changes).

fn spawn_spec(out: &mut Out, spec: &SpawnSpec) {
    let SpawnSpec {
        root_path,
        rootfs,
        readonly_rootfs,
        hostname,
        network,
        mounts,
        masked_paths,
        readonly_paths,
        cgroup,
        process,
    } = spec;
    out.cstr(root_path);
    out.u32(rootfs.len() as u32);
    for RootfsMount {
        kind,
        source,
        options,
        cwd,
    } in rootfs
    {
        out.cstr(kind);
        out.cstr(source);
        out.cstrs(options);
        out.opt_cstr(cwd.as_deref());
    }
    out.bool(*readonly_rootfs);
    out.opt_cstr(hostname.as_deref());
    out.u8(match network {
        Network::None => 0,
        Network::Host => 1,
    });
    out.u32(mounts.len() as u32);
    for ExtraMount {
        kind,
        destination,
        options,
    } in mounts
    {
        match kind {
            ExtraMountKind::Bind { source } => {
                out.u8(0);
                out.cstr(source);
            }
            ExtraMountKind::Tmpfs => out.u8(1),
        }
        out.cstr(destination);
        out.cstrs(options);
    }
    out.cstrs(masked_paths);
    out.cstrs(readonly_paths);
    cgroup_placement(out, cgroup);
    process_spec(out, process);
}

fn cgroup_placement(out: &mut Out, cgroup: &CgroupPlacement) {
    let CgroupPlacement { procs_files, dir } = cgroup;
    out.cstrs(procs_files);
    out.opt_cstr(dir.as_deref());
}

fn process_spec(out: &mut Out, process: &ProcessSpec) {
    let ProcessSpec {
        args,
        env,
        cwd,
        uid,
        gid,
        additional_gids,
        rlimits,
        capabilities,
        stdin,
        stdout,
        stderr,
        terminal,
    } = process;
    out.cstrs(args);
    out.cstrs(env);
    out.cstr(cwd);
    out.u32(*uid);
    out.u32(*gid);
    out.u32(additional_gids.len() as u32);
    for gid in additional_gids {
        out.u32(*gid);
    }
    out.u32(rlimits.len() as u32);
    for Rlimit { kind, soft, hard } in rlimits {
        out.cstr(kind);
        out.u64(*soft);
        out.u64(*hard);
    }
    out.cstrs(capabilities);
    out.bool(*stdin);
    out.bool(*stdout);
    out.bool(*stderr);
    match terminal {
        Some((cols, rows)) => {
            out.u8(1);
            out.u32((*cols).into());
            out.u32((*rows).into());
        }
        None => out.u8(0),
    }
}

fn detach_options(out: &mut Out, detach: &Detach) {
    let Detach {
        log,
        exit_path,
        attach,
    } = detach;
    match log {
        Some(LogFile {
            path,
            max_size,
            max_file,
        }) => {
            out.u8(1);
            out.cstr(path);
            out.u64(*max_size);
            out.u32(*max_file);
        }
        None => out.u8(0),
    }
    out.cstr(exit_path);
    match attach {
        Some(AttachSocket {
            path,
            stdin,
            await_client,
        }) => {
            out.u8(1);
            out.cstr(path);
            out.bool(*stdin);
            out.bool(*await_client);
        }
        None => out.u8(0),
    }
}

fn error(out: &mut Out, err: &Error) {
    match err {
        Error::Arg {
            range,
            code,
            message,
        } => {
            out.u8(0);
            out.bool(*range);
            out.cstr(code);
            out.bytes(message.as_bytes());
        }
        Error::Sys(err) => {
            out.u8(1);
            sys_error(out, err);
        }
        Error::Child {
            err,
            message,
            exit_code,
        } => {
            out.u8(2);
            sys_error(out, err);
            out.bytes(message.as_bytes());
            match exit_code {
                Some(code) => {
                    out.u8(1);
                    out.i32(*code);
                }
                None => out.u8(0),
            }
        }
        Error::Monitor(message) => {
            out.u8(3);
            out.bytes(message.as_bytes());
        }
        // The monitor makes no N-API calls: never sent, but said plainly if it ever were.
        Error::Napi { call, status } => {
            out.u8(3);
            out.bytes(format!("berth-monitor: {call} failed (napi_status {status})").as_bytes());
        }
    }
}

fn sys_error(out: &mut Out, err: &SysError) {
    let SysError {
        syscall,
        path,
        subject,
        errno,
    } = err;
    out.bytes(syscall.as_bytes());
    out.bytes(path.as_bytes());
    match subject {
        Some(subject) => {
            out.u8(1);
            out.bytes(subject.as_bytes());
        }
        None => out.u8(0),
    }
    out.i32(*errno);
}

#[derive(Default)]
struct Out(Vec<u8>);

impl Out {
    fn frame(self) -> Vec<u8> {
        let mut frame = Vec::with_capacity(HEADER_SIZE + self.0.len());
        frame.extend_from_slice(PROTOCOL);
        frame.extend_from_slice(&(self.0.len() as u32).to_ne_bytes());
        frame.extend_from_slice(&self.0);
        frame
    }

    fn u8(&mut self, value: u8) {
        self.0.push(value);
    }

    fn bool(&mut self, value: bool) {
        self.u8(value.into());
    }

    fn u32(&mut self, value: u32) {
        self.0.extend_from_slice(&value.to_ne_bytes());
    }

    fn i32(&mut self, value: i32) {
        self.0.extend_from_slice(&value.to_ne_bytes());
    }

    fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_ne_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.u32(bytes.len() as u32);
        self.0.extend_from_slice(bytes);
    }

    fn cstr(&mut self, s: &CStr) {
        self.bytes(s.to_bytes());
    }

    fn cstrs(&mut self, strings: &[CString]) {
        self.u32(strings.len() as u32);
        for s in strings {
            self.cstr(s);
        }
    }

    fn opt_cstr(&mut self, s: Option<&CStr>) {
        match s {
            Some(s) => {
                self.u8(1);
                self.cstr(s);
            }
            None => self.u8(0),
        }
    }
}

struct In<'a>(&'a [u8]);

impl<'a> In<'a> {
    fn frame(frame: &'a [u8]) -> Result<In<'a>, Error> {
        let Some(payload) = frame.strip_prefix(PROTOCOL) else {
            return Err(other_build());
        };
        let mut input = In(payload);
        let length = input.u32()? as usize;
        if input.0.len() != length {
            return Err(malformed());
        }
        Ok(input)
    }

    fn end(&self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(malformed())
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(malformed());
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        self.take(N)?.try_into().map_err(|_| malformed())
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    fn bool(&mut self) -> Result<bool, Error> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(malformed()),
        }
    }

    fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_ne_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, Error> {
        Ok(i32::from_ne_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_ne_bytes(self.array()?))
    }

    /// A count of items that each take at least one byte: never more than the bytes left, so
    /// that a corrupt count cannot make a huge allocation.
    fn count(&mut self) -> Result<usize, Error> {
        let count = self.u32()? as usize;
        if count > self.0.len() {
            return Err(malformed());
        }
        Ok(count)
    }

    fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let length = self.u32()? as usize;
        self.take(length)
    }

    fn string(&mut self) -> Result<String, Error> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| malformed())
    }

    fn cstring(&mut self) -> Result<CString, Error> {
        CString::new(self.bytes()?).map_err(|_| malformed())
    }

    fn cstrings(&mut self) -> Result<Vec<CString>, Error> {
        (0..self.count()?).map(|_| self.cstring()).collect()
    }

    fn opt<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        match self.u8()? {
            0 => Ok(None),
            1 => read(self).map(Some),
            _ => Err(malformed()),
        }
    }

    fn spawn_spec(&mut self) -> Result<SpawnSpec, Error> {
        let root_path = self.cstring()?;
        let rootfs = (0..self.count()?)
            .map(|_| {
                Ok(RootfsMount {
                    kind: self.cstring()?,
                    source: self.cstring()?,
                    options: self.cstrings()?,
                    cwd: self.opt(Self::cstring)?,
                })
            })
            .collect::<Result<_, Error>>()?;
        let readonly_rootfs = self.bool()?;
        let hostname = self.opt(Self::cstring)?;
        let network = match self.u8()? {
            0 => Network::None,
            1 => Network::Host,
            _ => return Err(malformed()),
        };
        let mounts = (0..self.count()?)
            .map(|_| {
                let kind = match self.u8()? {
                    0 => ExtraMountKind::Bind {
                        source: self.cstring()?,
                    },
                    1 => ExtraMountKind::Tmpfs,
                    _ => return Err(malformed()),
                };
                Ok(ExtraMount {
                    kind,
                    destination: self.cstring()?,
                    options: self.cstrings()?,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(SpawnSpec {
            root_path,
            rootfs,
            readonly_rootfs,
            hostname,
            network,
            mounts,
            masked_paths: self.cstrings()?,
            readonly_paths: self.cstrings()?,
            cgroup: self.cgroup_placement()?,
            process: self.process_spec()?,
        })
    }

    fn cgroup_placement(&mut self) -> Result<CgroupPlacement, Error> {
        Ok(CgroupPlacement {
            procs_files: self.cstrings()?,
            dir: self.opt(Self::cstring)?,
        })
    }

    fn process_spec(&mut self) -> Result<ProcessSpec, Error> {
        let args = self.cstrings()?;
        let env = self.cstrings()?;
        let cwd = self.cstring()?;
        let uid = self.u32()?;
        let gid = self.u32()?;
        let additional_gids = (0..self.count()?)
            .map(|_| self.u32())
            .collect::<Result<_, Error>>()?;
        let rlimits = (0..self.count()?)
            .map(|_| {
                Ok(Rlimit {
                    kind: self.cstring()?,
                    soft: self.u64()?,
                    hard: self.u64()?,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(ProcessSpec {
            args,
            env,
            cwd,
            uid,
            gid,
            additional_gids,
            rlimits,
            capabilities: self.cstrings()?,
            stdin: self.bool()?,
            stdout: self.bool()?,
            stderr: self.bool()?,
            terminal: self.opt(|input| {
                let cols = u16::try_from(input.u32()?).map_err(|_| malformed())?;
                let rows = u16::try_from(input.u32()?).map_err(|_| malformed())?;
                Ok((cols, rows))
            })?,
        })
    }

    fn detach(&mut self) -> Result<Detach, Error> {
        Ok(Detach {
            log: self.opt(|input| {
                Ok(LogFile {
                    path: input.cstring()?,
                    max_size: input.u64()?,
                    max_file: input.u32()?,
                })
            })?,
            exit_path: self.cstring()?,
            attach: self.opt(|input| {
                Ok(AttachSocket {
                    path: input.cstring()?,
                    stdin: input.bool()?,
                    await_client: input.bool()?,
                })
            })?,
        })
    }

    fn error(&mut self) -> Result<Error, Error> {
        Ok(match self.u8()? {
            0 => Error::Arg {
                range: self.bool()?,
                code: self.cstring()?.into(),
                message: self.string()?,
            },
            1 => Error::Sys(self.sys_error()?),
            2 => Error::Child {
                err: self.sys_error()?,
                message: self.string()?,
                exit_code: self.opt(Self::i32)?,
            },
            3 => Error::Monitor(self.string()?),
            _ => return Err(malformed()),
        })
    }

    fn sys_error(&mut self) -> Result<SysError, Error> {
        Ok(SysError {
            syscall: self.string()?.into(),
            path: self.string()?,
            subject: self.opt(Self::string)?,
            errno: self.i32()?,
        })
    }
}
