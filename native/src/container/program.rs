//! The builder of a child's program: the steps every container and exec process runs, with
//! each argument prepared before clone, and the small conversions they need.

use std::ffi::{c_char, CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr;

use libc::{c_ulong, mode_t};

use super::capabilities::{self, CapSet};
use super::prepare::*;
use super::spec::ProcessSpec;
use crate::errno::SysError;
use crate::error::Error;

#[derive(Default)]
pub(super) struct Program {
    pub(super) steps: Vec<Step>,
    pub(super) fds: Vec<OwnedFd>,
    /// CloneTree steps, which run before the root filesystem is mounted.
    pub(super) clones: Vec<Step>,
    /// Where in `steps` they go: in the new mount namespace, before pivot_root.
    pub(super) clones_at: usize,
}

impl Program {
    /// The steps every process ends with: limits, identity, capabilities, cwd; then exec's
    /// argv, envp and candidate paths.
    pub(super) fn process(
        mut self,
        spec: &ProcessSpec,
        clone_flags: u64,
        pid_ns: Option<OwnedFd>,
    ) -> Result<Prepared, Error> {
        // While still root with every capability: after the mounts (the container's devpts)
        // and before the identity changes.
        let console = match spec.terminal {
            Some((cols, rows)) => {
                let mut fds = [0; 2];
                let kind = libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC;
                if unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr()) } != 0 {
                    return Err(SysError::last("socketpair", c"").into());
                }
                let (parent, child) =
                    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
                self.push(
                    Op::Terminal {
                        socket: child.as_raw_fd(),
                        cols,
                        rows,
                    },
                    label("open the terminal", "/dev/ptmx"),
                );
                Some((parent, child))
            }
            None => None,
        };
        for rlimit in &spec.rlimits {
            let resource = rlimit_resource(&rlimit.kind).ok_or_else(|| {
                invalid(&format!(
                    "rlimits[].type {:?} is not a resource limit (RLIMIT_NOFILE...)",
                    lossy(&rlimit.kind)
                ))
            })?;
            if rlimit.soft > rlimit.hard {
                return Err(invalid(&format!(
                    "rlimit {}: the soft limit is above the hard limit",
                    lossy(&rlimit.kind)
                )));
            }
            let limit = libc::rlimit {
                rlim_cur: rlim(rlimit.soft),
                rlim_max: rlim(rlimit.hard),
            };
            self.push(
                Op::Rlimit { resource, limit },
                label("setrlimit", &lossy(&rlimit.kind)),
            );
        }

        let mut keep: CapSet = 0;
        for name in &spec.capabilities {
            let number = capabilities::number(name).ok_or_else(|| {
                invalid(&format!(
                    "capabilities: {:?} is not a capability (CAP_CHOWN...)",
                    lossy(name)
                ))
            })?;
            keep |= 1 << number;
        }
        self.push(
            Op::DropBounding {
                keep,
                last: last_capability(),
            },
            label("prctl PR_CAPBSET_DROP", ""),
        );
        self.push(Op::KeepCaps, label("prctl PR_SET_KEEPCAPS", ""));
        self.push(
            Op::Setgroups(spec.additional_gids.clone()),
            label("setgroups", ""),
        );
        self.push(Op::Setgid(spec.gid), label("setgid", &spec.gid.to_string()));
        self.push(Op::Setuid(spec.uid), label("setuid", &spec.uid.to_string()));
        // The kernel clears the parent-death signal when the credentials change: set it again,
        // or a non-root container would outlive its engine (or monitor). runc does the same.
        self.push(Op::DeathSignal, label("prctl PR_SET_PDEATHSIG", "again after setuid"));
        self.push(Op::Capset(keep), label("capset", ""));
        self.push(
            Op::ClearAmbient,
            label("prctl PR_CAP_AMBIENT_CLEAR_ALL", ""),
        );
        self.push(Op::NoNewPrivs, label("prctl PR_SET_NO_NEW_PRIVS", ""));
        self.push(
            Op::Chdir(spec.cwd.clone()),
            label("chdir", &lossy(&spec.cwd)),
        );

        let program = spec.args.first().map(|a| a.to_bytes()).unwrap_or_default();
        let path_search = !program.contains(&b'/');
        let candidates = if path_search {
            let path = spec
                .env
                .iter()
                .rev()
                .find_map(|e| e.to_bytes().strip_prefix(b"PATH="))
                .unwrap_or(DEFAULT_PATH);
            path.split(|b| *b == b':')
                .map(|dir| {
                    // execvp: an empty element is the current directory.
                    let dir = if dir.is_empty() { &b"."[..] } else { dir };
                    CString::new([dir, b"/", program].concat()).unwrap_or_default()
                })
                .collect()
        } else {
            vec![CString::new(program).unwrap_or_default()]
        };

        let args = spec.args.clone();
        let env = spec.env.clone();
        // The pointers stay valid as the vectors move: they point at the strings' heap buffers.
        let argv = null_terminated(&args);
        let envp = null_terminated(&env);
        Ok(Prepared {
            clone_flags,
            pid_ns,
            console,
            steps: self.steps,
            argv,
            envp,
            candidates,
            program: String::from_utf8_lossy(program).into_owned(),
            path_search,
            _fds: self.fds,
            _strings: [args, env],
        })
    }

    pub(super) fn push(&mut self, op: Op, label: Label) {
        self.steps.push(Step { op, label });
    }

    pub(super) fn mount(
        &mut self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: c_ulong,
        data: Option<&CStr>,
        label: Label,
    ) {
        let op = Op::Mount {
            source: source.map(Into::into),
            target: target.into(),
            fstype: fstype.map(Into::into),
            flags,
            data: data.map(Into::into),
        };
        self.push(op, label);
    }

    pub(super) fn mkdir(&mut self, path: &CStr, mode: mode_t) {
        self.push(
            Op::Mkdir {
                path: path.into(),
                mode,
            },
            label("mkdir", &lossy(path)),
        );
    }

    /// mkdir for each ancestor of an absolute path, outermost first.
    pub(super) fn parents(&mut self, path: &CStr) {
        let bytes = path.to_bytes();
        for (i, _) in bytes
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, b)| **b == b'/')
        {
            if let Ok(parent) = CString::new(&bytes[..i]) {
                self.mkdir(&parent, 0o755);
            }
        }
    }

    /// Opens a host path (O_PATH) to bind later: the child clones its mount tree onto the same
    /// descriptor number, returned with whether it is a directory.
    pub(super) fn open_source(&mut self, path: &CStr) -> Result<(libc::c_int, bool), Error> {
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(SysError::last("open", path).into());
        }
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) } != 0 {
            return Err(SysError::last("fstat", path).into());
        }
        let is_dir = stat.st_mode & libc::S_IFMT == libc::S_IFDIR;
        let number = fd.as_raw_fd();
        self.clones.push(Step {
            op: Op::CloneTree {
                path: path.into(),
                fd: number,
            },
            label: label("open_tree", &lossy(path)),
        });
        self.fds.push(fd);
        Ok((number, is_dir))
    }
}

pub(super) fn label(syscall: &'static str, path: &str) -> Label {
    Label {
        syscall,
        subject: None,
        path: path.to_owned(),
    }
}

pub(super) fn lossy(s: &CStr) -> String {
    s.to_string_lossy().into_owned()
}

pub(super) fn invalid(message: &str) -> Error {
    Error::Arg {
        range: false,
        code: c"ERR_INVALID_ARG_VALUE".into(),
        message: format!("spawn: {message}"),
    }
}

pub(super) fn absolute(what: &str, path: &CStr) -> Result<(), Error> {
    if path.to_bytes().first() != Some(&b'/') {
        return Err(invalid(&format!(
            "{what} must be an absolute path, got {:?}",
            lossy(path)
        )));
    }
    Ok(())
}

pub(super) fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain([ptr::null()])
        .collect()
}

pub(super) fn rlim(value: u64) -> libc::rlim_t {
    if value == u64::MAX {
        libc::RLIM_INFINITY
    } else {
        value as libc::rlim_t
    }
}

pub(super) fn rlimit_resource(name: &CStr) -> Option<libc::c_int> {
    let resource = match name.to_bytes() {
        b"RLIMIT_CPU" => libc::RLIMIT_CPU,
        b"RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        b"RLIMIT_DATA" => libc::RLIMIT_DATA,
        b"RLIMIT_STACK" => libc::RLIMIT_STACK,
        b"RLIMIT_CORE" => libc::RLIMIT_CORE,
        b"RLIMIT_RSS" => libc::RLIMIT_RSS,
        b"RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        b"RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        b"RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        b"RLIMIT_AS" => libc::RLIMIT_AS,
        b"RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        b"RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        b"RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        b"RLIMIT_NICE" => libc::RLIMIT_NICE,
        b"RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        b"RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    };
    Some(resource as libc::c_int)
}

/// The highest capability this kernel knows; capabilities above it cannot be dropped.
pub(super) fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}
