//! Turns a spec into the child's program: every path, string, argv/envp array and mount the
//! child needs, made before clone, because between clone and exec the child may not allocate.
//! The program is a list of steps the child runs in order; each carries the words that name it
//! in an error (`mount /proc`), which the parent uses if the child reports that step failed.

use std::ffi::{c_char, CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr;

use libc::{c_ulong, dev_t, mode_t};

use super::capabilities::{self, CapSet};
use super::mount_options;
use super::spec::{ExecSpec, ExtraMountKind, Network, ProcessSpec, SpawnSpec};
use crate::errno::SysError;
use crate::js::Error;

pub enum Op {
    /// PR_SET_PDEATHSIG(SIGKILL): the container dies with the thread that started it.
    DeathSignal,
    /// Joins the namespace `fd` refers to (opened by the parent from /proc/<pid>/ns/*).
    Setns {
        fd: libc::c_int,
        nstype: libc::c_int,
    },
    Unshare(libc::c_int),
    /// A pseudo-terminal from the container's own devpts: the slave becomes the controlling
    /// terminal and stdin, stdout and stderr; the master goes to the parent over `socket`.
    Terminal {
        socket: libc::c_int,
        cols: u16,
        rows: u16,
    },
    LoopbackUp,
    Sethostname(CString),
    /// mkdir, where EEXIST is success.
    Mkdir {
        path: CString,
        mode: mode_t,
    },
    /// A detached recursive copy of the host's `path` (open_tree OPEN_TREE_CLONE), made in the
    /// child's mount namespace before pivot_root detaches the host's tree, onto descriptor `fd`,
    /// which the parent opened on the same path to reserve the number.
    CloneTree {
        path: CString,
        fd: libc::c_int,
    },
    /// Attaches a tree CloneTree made at `target` (move_mount).
    MoveMount {
        fd: libc::c_int,
        target: CString,
    },
    /// An empty file to bind a file onto, where EEXIST is success.
    CreateFile(CString),
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: c_ulong,
        data: Option<CString>,
    },
    Chdir(CString),
    /// pivot_root(".", ".") then detaching the old root stacked on the new one (runc, crun):
    /// no directory for the old root is needed in the image.
    PivotRoot,
    Mknod {
        path: CString,
        mode: mode_t,
        dev: dev_t,
    },
    Symlink {
        target: CString,
        link: CString,
    },
    /// A read-only empty tmpfs over a directory, /dev/null over anything else; absent paths are
    /// skipped (Docker's masked paths).
    Mask(CString),
    /// Bound onto itself and remounted read-only; absent paths are skipped.
    ReadonlyPath(CString),
    Rlimit {
        resource: libc::c_int,
        limit: libc::rlimit,
    },
    /// Drops every capability up to `last` not in `keep` from the bounding set.
    DropBounding {
        keep: CapSet,
        last: u32,
    },
    KeepCaps,
    Setgroups(Vec<libc::gid_t>),
    Setgid(libc::gid_t),
    Setuid(libc::uid_t),
    Capset(CapSet),
    ClearAmbient,
    NoNewPrivs,
}

/// What a step is called in an error: `mount /proc`, `mount overlay on /x/rootfs`.
pub struct Label {
    pub syscall: &'static str,
    pub subject: Option<String>,
    pub path: String,
}

pub struct Step {
    pub op: Op,
    pub label: Label,
}

pub struct Prepared {
    pub clone_flags: u64,
    /// An exec's target PID namespace: the parent joins it around clone (for its children only,
    /// setns(CLONE_NEWPID) does not move the caller), so the child starts inside it.
    pub pid_ns: Option<OwnedFd>,
    /// The parent's end of the socket the child sends the terminal's master over, and the
    /// child's end (which the parent closes once it has cloned).
    pub console: Option<(OwnedFd, OwnedFd)>,
    pub steps: Vec<Step>,
    /// argv and envp as execve takes them, NULL-terminated; they point into `_strings`.
    pub argv: Vec<*const c_char>,
    pub envp: Vec<*const c_char>,
    /// Where args[0] may be: itself when it has a slash, else each $PATH directory joined to it.
    pub candidates: Vec<CString>,
    /// args[0], for exec's error message.
    pub program: String,
    pub path_search: bool,
    /// The descriptor numbers CloneTree steps reuse, held open until the child has cloned.
    _fds: Vec<OwnedFd>,
    _strings: [Vec<CString>; 2],
}

/// Docker's PATH when the image sets none (moby's oci.DefaultPathEnv on Linux).
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const S_IFCHR_0666: mode_t = libc::S_IFCHR | 0o666;

/// The devices every container gets (the OCI runtime spec's default devices), by mknod: the
/// engine runs as root in the host's user namespace.
const DEVICES: &[(&CStr, u32, u32)] = &[
    (c"/dev/null", 1, 3),
    (c"/dev/zero", 1, 5),
    (c"/dev/full", 1, 7),
    (c"/dev/random", 1, 8),
    (c"/dev/urandom", 1, 9),
    (c"/dev/tty", 5, 0),
];

const DEV_LINKS: &[(&CStr, &CStr)] = &[
    (c"/proc/self/fd", c"/dev/fd"),
    (c"/proc/self/fd/0", c"/dev/stdin"),
    (c"/proc/self/fd/1", c"/dev/stdout"),
    (c"/proc/self/fd/2", c"/dev/stderr"),
    (c"pts/ptmx", c"/dev/ptmx"),
];

pub fn prepare(spec: &SpawnSpec) -> Result<Prepared, Error> {
    let mut p = Program::default();
    let root = spec.root_path.clone();
    absolute("root.path", &root)?;
    check_process(&spec.process)?;

    p.push(Op::DeathSignal, label("prctl PR_SET_PDEATHSIG", ""));
    // The cgroup namespace is rooted at the cgroup the process is in when it is made: with a
    // cgroup to join, made only once the parent has placed the child there (runc does the same),
    // so the container sees its own cgroup as "/".
    let cgroupns_late = !spec.cgroup.is_empty();
    if cgroupns_late {
        p.push(
            Op::Unshare(libc::CLONE_NEWCGROUP),
            label("unshare", "the cgroup namespace"),
        );
    }
    p.mount(
        None,
        c"/",
        None,
        libc::MS_REC | libc::MS_SLAVE,
        None,
        label("make / rslave in", "/"),
    );
    p.clones_at = p.steps.len();
    if spec.network == Network::None {
        p.push(Op::LoopbackUp, label("bring up interface", "lo"));
    }
    if let Some(hostname) = &spec.hostname {
        p.push(
            Op::Sethostname(hostname.clone()),
            label("sethostname", &lossy(hostname)),
        );
    }

    for mount in &spec.rootfs {
        if let Some(cwd) = &mount.cwd {
            p.push(Op::Chdir(cwd.clone()), label("chdir", &lossy(cwd)));
        }
        let options = mount_options::parse(&mount.options);
        let described = Label {
            syscall: "mount",
            subject: Some(lossy(&mount.kind)),
            path: lossy(&root),
        };
        if options.bind {
            p.mount(
                Some(&mount.source),
                &root,
                None,
                options.flags & (libc::MS_BIND | libc::MS_REC),
                None,
                described,
            );
            if options.flags & !(libc::MS_BIND | libc::MS_REC) != 0 {
                let flags = options.flags | libc::MS_BIND | libc::MS_REMOUNT;
                p.mount(
                    None,
                    &root,
                    None,
                    flags & !libc::MS_REC,
                    None,
                    label("remount", &lossy(&root)),
                );
            }
        } else {
            p.mount(
                Some(&mount.source),
                &root,
                Some(&mount.kind),
                options.flags,
                options.data.as_deref(),
                described,
            );
        }
    }
    if spec.rootfs.is_empty() {
        p.mount(
            Some(&root),
            &root,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
            Label {
                syscall: "mount",
                subject: Some("bind".to_owned()),
                path: lossy(&root),
            },
        );
    }
    p.push(Op::Chdir(root.clone()), label("chdir", &lossy(&root)));
    p.push(Op::PivotRoot, label("pivot_root", &lossy(&root)));

    p.mkdir(c"/proc", 0o555);
    p.mount(
        Some(c"proc"),
        c"/proc",
        Some(c"proc"),
        libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV,
        None,
        label("mount", "/proc"),
    );

    p.mkdir(c"/dev", 0o755);
    p.mount(
        Some(c"tmpfs"),
        c"/dev",
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_STRICTATIME,
        Some(c"mode=755,size=65536k"),
        label("mount", "/dev"),
    );
    for (path, major, minor) in DEVICES {
        let op = Op::Mknod {
            path: (*path).into(),
            mode: S_IFCHR_0666,
            dev: libc::makedev(*major, *minor),
        };
        p.push(op, label("mknod", &lossy(path)));
    }
    for (target, link) in DEV_LINKS {
        p.push(
            Op::Symlink {
                target: (*target).into(),
                link: (*link).into(),
            },
            label("symlink", &lossy(link)),
        );
    }
    p.mkdir(c"/dev/pts", 0o755);
    p.mount(
        Some(c"devpts"),
        c"/dev/pts",
        Some(c"devpts"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some(c"newinstance,ptmxmode=0666,mode=0620,gid=5"),
        label("mount", "/dev/pts"),
    );
    p.mkdir(c"/dev/shm", 0o1777);
    p.mount(
        Some(c"shm"),
        c"/dev/shm",
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV,
        Some(c"mode=1777,size=65536k"),
        label("mount", "/dev/shm"),
    );
    p.mkdir(c"/dev/mqueue", 0o755);
    p.mount(
        Some(c"mqueue"),
        c"/dev/mqueue",
        Some(c"mqueue"),
        libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV,
        None,
        label("mount", "/dev/mqueue"),
    );

    p.mkdir(c"/sys", 0o555);
    let sys_flags = libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV | libc::MS_RDONLY;
    match spec.network {
        Network::None => p.mount(
            Some(c"sysfs"),
            c"/sys",
            Some(c"sysfs"),
            sys_flags,
            None,
            label("mount", "/sys"),
        ),
        // A new sysfs shows the network namespace of its mounter; in the host's, bind the
        // host's own (with its submounts), as runc does.
        Network::Host => {
            let (fd, _) = p.open_source(c"/sys")?;
            p.push(
                Op::MoveMount {
                    fd,
                    target: c"/sys".into(),
                },
                label("mount", "/sys"),
            );
            p.mount(
                None,
                c"/sys",
                None,
                sys_flags | libc::MS_BIND | libc::MS_REMOUNT,
                None,
                label("remount read-only", "/sys"),
            );
        }
    }

    for mount in &spec.mounts {
        let destination = &mount.destination;
        absolute("mounts[].destination", destination)?;
        p.parents(destination);
        let options = mount_options::parse(&mount.options);
        match &mount.kind {
            ExtraMountKind::Bind { source } => {
                absolute("mounts[].source", source)?;
                let (fd, is_dir) = p.open_source(source)?;
                if is_dir {
                    p.mkdir(destination, 0o755);
                } else {
                    p.push(
                        Op::CreateFile(destination.clone()),
                        label("create", &lossy(destination)),
                    );
                }
                let described = Label {
                    syscall: "mount",
                    subject: Some(lossy(source)),
                    path: lossy(destination),
                };
                p.push(
                    Op::MoveMount {
                        fd,
                        target: destination.clone(),
                    },
                    described,
                );
                let rest = options.flags & !(libc::MS_BIND | libc::MS_REC);
                if rest != 0 {
                    p.mount(
                        None,
                        destination,
                        None,
                        rest | libc::MS_BIND | libc::MS_REMOUNT,
                        None,
                        label("remount", &lossy(destination)),
                    );
                }
            }
            ExtraMountKind::Tmpfs => {
                p.mkdir(destination, 0o755);
                p.mount(
                    Some(c"tmpfs"),
                    destination,
                    Some(c"tmpfs"),
                    options.flags,
                    options.data.as_deref(),
                    label("mount tmpfs on", &lossy(destination)),
                );
            }
        }
    }

    for path in &spec.masked_paths {
        absolute("maskedPaths[]", path)?;
        p.push(Op::Mask(path.clone()), label("mask", &lossy(path)));
    }
    for path in &spec.readonly_paths {
        absolute("readonlyPaths[]", path)?;
        p.push(
            Op::ReadonlyPath(path.clone()),
            label("make read-only", &lossy(path)),
        );
    }
    if spec.readonly_rootfs {
        p.mount(
            None,
            c"/",
            None,
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
            None,
            label("remount read-only", "/"),
        );
    }

    let clone_flags = (libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | if cgroupns_late {
            0
        } else {
            libc::CLONE_NEWCGROUP
        }
        | if spec.network == Network::None {
            libc::CLONE_NEWNET
        } else {
            0
        }) as u64;
    let mut steps = std::mem::take(&mut p.steps);
    steps.splice(p.clones_at..p.clones_at, std::mem::take(&mut p.clones));
    p.steps = steps;
    p.process(&spec.process, clone_flags, None)
}

/// The namespaces an exec joins besides the PID namespace, which the parent joins around clone.
const EXEC_NAMESPACES: &[(&str, libc::c_int)] = &[
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    // Last: it changes the root and cwd to the container's.
    ("mnt", libc::CLONE_NEWNS),
];

/// An exec: the child joins the namespaces of the running container `spec.pid` (opened here,
/// before clone, so a container that has ended fails here with ENOENT), then takes the
/// process's identity and execs as an init does.
pub fn prepare_exec(spec: &ExecSpec) -> Result<Prepared, Error> {
    check_process(&spec.process)?;
    let mut p = Program::default();
    p.push(Op::DeathSignal, label("prctl PR_SET_PDEATHSIG", ""));
    let open_ns = |name: &str| -> Result<(OwnedFd, String), Error> {
        let path = format!("/proc/{}/ns/{name}", spec.pid);
        let c_path = CString::new(path.clone()).unwrap_or_default();
        let fd = unsafe { libc::open(c_path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(SysError::last("open", &c_path).into());
        }
        Ok((unsafe { OwnedFd::from_raw_fd(fd) }, path))
    };
    for (name, nstype) in EXEC_NAMESPACES {
        let (fd, path) = open_ns(name)?;
        // A namespace the process already shares (network: host) is joined as well: setns to
        // one's own namespace is allowed and cheap.
        p.push(
            Op::Setns {
                fd: fd.as_raw_fd(),
                nstype: *nstype,
            },
            label("setns", &path),
        );
        p.fds.push(fd);
    }
    let (pid_ns, _) = open_ns("pid")?;
    p.process(&spec.process, 0, Some(pid_ns))
}

fn check_process(process: &ProcessSpec) -> Result<(), Error> {
    if process.args.is_empty() {
        return Err(invalid("args must name the program to run"));
    }
    absolute("cwd", &process.cwd)
}

#[derive(Default)]
struct Program {
    steps: Vec<Step>,
    fds: Vec<OwnedFd>,
    /// CloneTree steps, which run before the root filesystem is mounted.
    clones: Vec<Step>,
    /// Where in `steps` they go: in the new mount namespace, before pivot_root.
    clones_at: usize,
}

impl Program {
    /// The steps every process ends with: limits, identity, capabilities, cwd; then exec's
    /// argv, envp and candidate paths.
    fn process(
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

    fn push(&mut self, op: Op, label: Label) {
        self.steps.push(Step { op, label });
    }

    fn mount(
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

    fn mkdir(&mut self, path: &CStr, mode: mode_t) {
        self.push(
            Op::Mkdir {
                path: path.into(),
                mode,
            },
            label("mkdir", &lossy(path)),
        );
    }

    /// mkdir for each ancestor of an absolute path, outermost first.
    fn parents(&mut self, path: &CStr) {
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
    fn open_source(&mut self, path: &CStr) -> Result<(libc::c_int, bool), Error> {
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

fn label(syscall: &'static str, path: &str) -> Label {
    Label {
        syscall,
        subject: None,
        path: path.to_owned(),
    }
}

fn lossy(s: &CStr) -> String {
    s.to_string_lossy().into_owned()
}

fn invalid(message: &str) -> Error {
    Error::Arg {
        range: false,
        code: c"ERR_INVALID_ARG_VALUE",
        message: format!("spawn: {message}"),
    }
}

fn absolute(what: &str, path: &CStr) -> Result<(), Error> {
    if path.to_bytes().first() != Some(&b'/') {
        return Err(invalid(&format!(
            "{what} must be an absolute path, got {:?}",
            lossy(path)
        )));
    }
    Ok(())
}

fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain([ptr::null()])
        .collect()
}

fn rlim(value: u64) -> libc::rlim_t {
    if value == u64::MAX {
        libc::RLIM_INFINITY
    } else {
        value as libc::rlim_t
    }
}

fn rlimit_resource(name: &CStr) -> Option<libc::c_int> {
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
fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}
