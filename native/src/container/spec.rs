//! What a container process is started from, as plain Rust values (read from JavaScript in
//! exports.rs). Paths inside the container are absolute; nothing here has been checked yet.

use std::ffi::CString;

/// A mount as data, from a snapshotter (core/snapshot/snapshotter.ts): mounted onto the root
/// path; `cwd` is the directory relative option paths start from.
pub struct RootfsMount {
    pub kind: CString,
    pub source: CString,
    pub options: Vec<CString>,
    pub cwd: Option<CString>,
}

pub enum ExtraMountKind {
    /// A host file or directory, recursively bound; read-only with the `ro` option.
    Bind {
        source: CString,
    },
    Tmpfs,
}

pub struct ExtraMount {
    pub kind: ExtraMountKind,
    pub destination: CString,
    pub options: Vec<CString>,
}

pub struct Rlimit {
    /// `RLIMIT_NOFILE`, as in the OCI runtime spec.
    pub kind: CString,
    /// u64::MAX is unlimited.
    pub soft: u64,
    pub hard: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// A new network namespace with only the loopback interface, up.
    None,
    /// The host's network namespace.
    Host,
}

/// Where the process goes in the cgroup hierarchy before its first instruction runs.
#[derive(Default)]
pub struct CgroupPlacement {
    /// v1: a `cgroup.procs` file per controller hierarchy; the child joins each (through the
    /// hierarchy's `tasks` file, see spawn.rs) before its first step.
    pub procs_files: Vec<CString>,
    /// v2: the cgroup's directory, for clone3's CLONE_INTO_CGROUP.
    pub dir: Option<CString>,
}

impl CgroupPlacement {
    pub fn is_empty(&self) -> bool {
        self.procs_files.is_empty() && self.dir.is_none()
    }
}

/// The process itself, as a container's init or an exec into a running container.
pub struct ProcessSpec {
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    pub cwd: CString,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub rlimits: Vec<Rlimit>,
    /// Capability names (`CAP_CHOWN`) the process keeps; all others are dropped.
    pub capabilities: Vec<CString>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// A pseudo-terminal for stdin, stdout and stderr (and as the controlling terminal) instead
    /// of pipes, with this many (columns, rows).
    pub terminal: Option<(u16, u16)>,
}

pub struct SpawnSpec {
    /// The directory the root filesystem is mounted onto (in the child's mount namespace only).
    pub root_path: CString,
    /// Mounted in order onto `root_path`; none: `root_path` itself is the root filesystem.
    pub rootfs: Vec<RootfsMount>,
    pub readonly_rootfs: bool,
    pub hostname: Option<CString>,
    pub network: Network,
    pub mounts: Vec<ExtraMount>,
    pub masked_paths: Vec<CString>,
    pub readonly_paths: Vec<CString>,
    pub cgroup: CgroupPlacement,
    pub process: ProcessSpec,
}

/// A process started inside the namespaces of a running container.
pub struct ExecSpec {
    /// The container's init, whose namespaces the process joins.
    pub pid: libc::pid_t,
    /// The container's cgroup, joined as the init was placed in it.
    pub cgroup: CgroupPlacement,
    pub process: ProcessSpec,
}
