//! Turns a spec into the child's program: every path, string, argv/envp array and mount the
//! child needs, made before clone, because between clone and exec the child may not allocate.
//! The program is a list of steps the child runs in order; each carries the words that name it
//! in an error (`mount /proc`), which the parent uses if the child reports that step failed.

use std::ffi::{c_char, CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use libc::{c_ulong, dev_t, mode_t};

use super::capabilities::CapSet;
use super::mount_options;
use super::program::*;
use super::spec::{ExecSpec, ExtraMountKind, Network, ProcessSpec, SpawnSpec};
use crate::errno::SysError;
use crate::error::Error;

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
    pub(super) _fds: Vec<OwnedFd>,
    pub(super) _strings: [Vec<CString>; 2],
}

impl Prepared {
    /// Whether the child makes a network namespace of its own (network: none).
    pub(super) fn makes_network(&self) -> bool {
        self.clone_flags & libc::CLONE_NEWNET as u64 != 0
    }

    /// Has the child join `netns`, a fresh network namespace with its loopback up, instead of
    /// making one: at the step that brought the loopback up, before /sys is mounted (sysfs shows
    /// the network namespace of its mounter).
    pub(super) fn join_network(&mut self, netns: OwnedFd) {
        let Some(step) = self
            .steps
            .iter_mut()
            .find(|s| matches!(s.op, Op::LoopbackUp))
        else {
            return;
        };
        step.op = Op::Setns {
            fd: netns.as_raw_fd(),
            nstype: libc::CLONE_NEWNET,
        };
        step.label = label("setns", "a network namespace made ahead");
        self.clone_flags &= !(libc::CLONE_NEWNET as u64);
        self._fds.push(netns);
    }
}

/// Docker's PATH when the image sets none (moby's oci.DefaultPathEnv on Linux).
pub(super) const DEFAULT_PATH: &[u8] =
    b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub(super) const S_IFCHR_0666: mode_t = libc::S_IFCHR | 0o666;

/// The devices every container gets (the OCI runtime spec's default devices), by mknod: the
/// engine runs as root in the host's user namespace.
pub(super) const DEVICES: &[(&CStr, u32, u32)] = &[
    (c"/dev/null", 1, 3),
    (c"/dev/zero", 1, 5),
    (c"/dev/full", 1, 7),
    (c"/dev/random", 1, 8),
    (c"/dev/urandom", 1, 9),
    (c"/dev/tty", 5, 0),
];

pub(super) const DEV_LINKS: &[(&CStr, &CStr)] = &[
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

    // Docker creates a missing working directory, with its parents, owned by root (moby's
    // SetupWorkingDirectory; runc does the same), before a read-only root is remounted.
    let mut dir = Vec::new();
    for name in spec
        .process
        .cwd
        .to_bytes()
        .split(|b| *b == b'/')
        .filter(|n| !n.is_empty())
    {
        dir.push(b'/');
        dir.extend_from_slice(name);
        let path = CString::new(dir.clone()).expect("a CString's bytes hold no NUL");
        p.mkdir(&path, 0o755);
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
pub(super) const EXEC_NAMESPACES: &[(&str, libc::c_int)] = &[
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

pub(super) fn check_process(process: &ProcessSpec) -> Result<(), Error> {
    if process.args.is_empty() {
        return Err(invalid("args must name the program to run"));
    }
    absolute("cwd", &process.cwd)
}
