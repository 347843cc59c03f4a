//! The child between clone and exec. Only async-signal-safe system calls: the parent is a
//! multi-threaded Node process, so another thread may have held the allocator's lock at clone
//! time. No allocation, no formatting, no indexing that could panic; everything comes prepared
//! (prepare.rs). setgroups/setresgid/setresuid are raw system calls because glibc's wrappers
//! signal every thread of the parent (which do not exist here) to change their ids too.

use std::ffi::CStr;
use std::ptr;

use libc::c_int;

use super::capabilities;
use super::prepare::{Op, Prepared};

/// The error report the child writes before exiting: the step (an index into the program, or
/// one of the values below) and the errno.
pub const REPORT_SIZE: usize = 8;
pub const STEP_EXEC: u32 = u32::MAX;
pub const STEP_STDIO: u32 = u32::MAX - 1;
/// Joining the cgroup of `joins[step - STEP_JOIN]`.
pub const STEP_JOIN: u32 = 0x8000_0000;

// linux/mount.h; libc 0.2.139 lacks them.
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// The exit status of a child that failed before exec; the parent reaps it and reports the step.
const FAILED: c_int = 127;

/// Joins its cgroups (writes "0", itself, to each of `joins`), runs the program and execs; on
/// failure writes (step, errno) to `report` and exits.
///
/// # Safety
/// Called in the child right after clone, with the descriptors the parent prepared. The child
/// may share the parent's memory (CLONE_VM) with the parent suspended (CLONE_VFORK): it writes
/// only to its own stack, and errno.
pub unsafe fn run(p: &Prepared, stdio: [c_int; 3], report: c_int, joins: &[c_int]) -> ! {
    reset_signal_handlers();
    for (index, fd) in (0u32..).zip(joins) {
        match libc::write(*fd, c"0".as_ptr().cast(), 1) {
            1 => {}
            n => fail(
                report,
                STEP_JOIN + index,
                if n < 0 { errno() } else { libc::EIO },
            ),
        }
    }
    libc::umask(0);
    for (target, fd) in (0..3).zip(stdio) {
        let rc = if fd == target {
            libc::fcntl(fd, libc::F_SETFD, 0)
        } else {
            libc::dup2(fd, target)
        };
        if rc < 0 {
            fail(report, STEP_STDIO, errno());
        }
    }
    // Whatever Node left open without O_CLOEXEC must not reach the container (runc does this
    // too). Kernels before 5.11 lack close_range: then only O_CLOEXEC protects.
    libc::syscall(
        libc::SYS_close_range,
        3u32,
        u32::MAX,
        libc::CLOSE_RANGE_CLOEXEC,
    );

    for (index, step) in (0u32..).zip(&p.steps) {
        if let Err(e) = perform(&step.op) {
            fail(report, index, e);
        }
    }

    libc::umask(0o022);
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    libc::sigprocmask(libc::SIG_SETMASK, &empty, ptr::null_mut());
    // execvp's rules: go on past candidates that do not exist or may not be run; report EACCES
    // if one existed but could not be run, else the last error.
    let mut denied = false;
    let mut last = libc::ENOENT;
    for candidate in &p.candidates {
        libc::execve(candidate.as_ptr(), p.argv.as_ptr(), p.envp.as_ptr());
        last = errno();
        match last {
            libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
            libc::EACCES => denied = true,
            _ => break,
        }
    }
    if denied && p.path_search && last != libc::ENOEXEC {
        last = libc::EACCES;
    }
    fail(report, STEP_EXEC, last)
}

unsafe fn perform(op: &Op) -> Result<(), c_int> {
    match op {
        Op::DeathSignal => check(libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )),
        Op::Setns { fd, nstype } => check(libc::setns(*fd, *nstype)),
        Op::Unshare(flags) => check(libc::unshare(*flags)),
        Op::Terminal { socket, cols, rows } => terminal(*socket, *cols, *rows),
        Op::LoopbackUp => loopback_up(),
        Op::Sethostname(name) => check(libc::sethostname(name.as_ptr(), name.to_bytes().len())),
        Op::Mkdir { path, mode } => match check(libc::mkdir(path.as_ptr(), *mode)) {
            Err(libc::EEXIST) => Ok(()),
            other => other,
        },
        Op::CloneTree { path, fd } => {
            let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | AT_RECURSIVE;
            let tree =
                libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) as c_int;
            if tree < 0 {
                return Err(errno());
            }
            let rc = libc::dup3(tree, *fd, libc::O_CLOEXEC);
            let err = errno();
            libc::close(tree);
            if rc < 0 {
                return Err(err);
            }
            Ok(())
        }
        Op::MoveMount { fd, target } => check(libc::syscall(
            libc::SYS_move_mount,
            *fd,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        ) as c_int),
        Op::CreateFile(path) => {
            let fd = libc::open(
                path.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            );
            if fd < 0 {
                return Err(errno());
            }
            libc::close(fd);
            Ok(())
        }
        Op::Mount {
            source,
            target,
            fstype,
            flags,
            data,
        } => check(libc::mount(
            opt(source),
            target.as_ptr(),
            opt(fstype),
            *flags,
            opt(data).cast(),
        )),
        Op::Chdir(path) => check(libc::chdir(path.as_ptr())),
        Op::PivotRoot => {
            let dot = c".".as_ptr();
            check(libc::syscall(libc::SYS_pivot_root, dot, dot) as c_int)?;
            check(libc::umount2(dot, libc::MNT_DETACH))?;
            check(libc::chdir(c"/".as_ptr()))
        }
        Op::Mknod { path, mode, dev } => check(libc::mknod(path.as_ptr(), *mode, *dev)),
        Op::Symlink { target, link } => check(libc::symlink(target.as_ptr(), link.as_ptr())),
        Op::Mask(path) => {
            let mut st: libc::stat = std::mem::zeroed();
            match check(libc::stat(path.as_ptr(), &mut st)) {
                Err(libc::ENOENT) => return Ok(()),
                other => other?,
            }
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                check(libc::mount(
                    c"tmpfs".as_ptr(),
                    path.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_RDONLY,
                    ptr::null(),
                ))
            } else {
                check(libc::mount(
                    c"/dev/null".as_ptr(),
                    path.as_ptr(),
                    ptr::null(),
                    libc::MS_BIND,
                    ptr::null(),
                ))
            }
        }
        Op::ReadonlyPath(path) => {
            let p = path.as_ptr();
            match check(libc::mount(
                p,
                p,
                ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                ptr::null(),
            )) {
                Err(libc::ENOENT) => return Ok(()),
                other => other?,
            }
            // nosuid, nodev and noexec as /proc has them, where Docker's read-only paths are;
            // elsewhere, added restrictions are safer than ones lost in the remount.
            let flags = libc::MS_NOSUID
                | libc::MS_NODEV
                | libc::MS_NOEXEC
                | libc::MS_BIND
                | libc::MS_REMOUNT
                | libc::MS_RDONLY;
            check(libc::mount(p, p, ptr::null(), flags, ptr::null()))
        }
        Op::Rlimit { resource, limit } => check(libc::setrlimit(*resource as _, limit)),
        Op::DropBounding { keep, last } => {
            for cap in 0..=*last {
                if keep & (1u64 << cap) == 0 {
                    check(libc::prctl(
                        libc::PR_CAPBSET_DROP,
                        cap as libc::c_ulong,
                        0,
                        0,
                        0,
                    ))?;
                }
            }
            Ok(())
        }
        Op::KeepCaps => check(libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0)),
        Op::Setgroups(groups) => {
            check(libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) as c_int)
        }
        Op::Setgid(gid) => check(libc::syscall(libc::SYS_setresgid, *gid, *gid, *gid) as c_int),
        Op::Setuid(uid) => check(libc::syscall(libc::SYS_setresuid, *uid, *uid, *uid) as c_int),
        Op::Capset(set) => capabilities::apply(*set),
        Op::ClearAmbient => check(libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )),
        Op::NoNewPrivs => check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)),
    }
}

/// Opens a pseudo-terminal pair on the container's /dev/ptmx (its own devpts instance, so the
/// slave is a /dev/pts path inside), makes the slave this session's controlling terminal and
/// stdio, and sends the master to the parent (SCM_RIGHTS).
unsafe fn terminal(socket: c_int, cols: u16, rows: u16) -> Result<(), c_int> {
    let master = libc::open(
        c"/dev/ptmx".as_ptr(),
        libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
    );
    if master < 0 {
        return Err(errno());
    }
    let unlock: c_int = 0;
    check(libc::ioctl(master, libc::TIOCSPTLCK, &unlock))?;
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    check(libc::ioctl(master, libc::TIOCSWINSZ, &size))?;
    // The slave from the master itself: no path lookup, no ptsname formatting.
    let slave = libc::ioctl(master, libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY);
    if slave < 0 {
        return Err(errno());
    }
    check(libc::setsid())?;
    check(libc::ioctl(slave, libc::TIOCSCTTY, 0))?;
    for target in 0..3 {
        check(libc::dup2(slave, target))?;
    }
    if slave > 2 {
        libc::close(slave);
    }
    send_fd(socket, master)?;
    libc::close(master);
    libc::close(socket);
    Ok(())
}

/// One byte with the descriptor as SCM_RIGHTS ancillary data.
unsafe fn send_fd(socket: c_int, fd: c_int) -> Result<(), c_int> {
    #[repr(C)]
    struct Control {
        header: libc::cmsghdr,
        fd: c_int,
        _pad: c_int,
    }
    let mut byte = 0u8;
    let mut iov = libc::iovec {
        iov_base: ptr::addr_of_mut!(byte).cast(),
        iov_len: 1,
    };
    let mut control: Control = std::mem::zeroed();
    control.header.cmsg_len = libc::CMSG_LEN(std::mem::size_of::<c_int>() as u32) as _;
    control.header.cmsg_level = libc::SOL_SOCKET;
    control.header.cmsg_type = libc::SCM_RIGHTS;
    control.fd = fd;
    let mut message: libc::msghdr = std::mem::zeroed();
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = ptr::addr_of_mut!(control).cast();
    message.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<c_int>() as u32) as _;
    if libc::sendmsg(socket, &message, 0) != 1 {
        return Err(errno());
    }
    Ok(())
}

/// struct ifreq with the flags member of its union (linux/if.h): 16 bytes of name, then the
/// union, 24 bytes on 64-bit.
#[repr(C)]
struct IfreqFlags {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// SIOCSIFFLAGS with IFF_UP on "lo", the only interface of a new network namespace.
pub(super) unsafe fn loopback_up() -> Result<(), c_int> {
    let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
    if sock < 0 {
        return Err(errno());
    }
    let mut req = IfreqFlags {
        name: [0; libc::IFNAMSIZ],
        flags: 0,
        _pad: [0; 22],
    };
    req.name[..2].copy_from_slice(b"lo");
    let mut rc = libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req);
    if rc == 0 {
        req.flags |= libc::IFF_UP as libc::c_short;
        rc = libc::ioctl(sock, libc::SIOCSIFFLAGS, &req);
    }
    let err = errno();
    libc::close(sock);
    if rc != 0 {
        return Err(err);
    }
    Ok(())
}

/// Node's handlers would run Node's code (and write to its signal pipe, shared with the parent)
/// in the child; ignored signals (SIGPIPE) would stay ignored in the container. Signals stay
/// blocked, as the parent blocked them around clone, until just before exec.
unsafe fn reset_signal_handlers() {
    let mut action: libc::sigaction = std::mem::zeroed();
    action.sa_sigaction = libc::SIG_DFL;
    for signal in 1..65 {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            libc::sigaction(signal, &action, ptr::null_mut());
        }
    }
}

unsafe fn fail(report: c_int, step: u32, errno: c_int) -> ! {
    let mut buf = [0u8; REPORT_SIZE];
    let (a, b) = buf.split_at_mut(4);
    a.copy_from_slice(&step.to_ne_bytes());
    b.copy_from_slice(&errno.to_ne_bytes());
    // The pipe holds far more than 8 bytes: one write, never partial.
    libc::write(report, buf.as_ptr().cast(), REPORT_SIZE);
    libc::_exit(FAILED)
}

fn opt(s: &Option<std::ffi::CString>) -> *const libc::c_char {
    s.as_deref().map_or(ptr::null(), CStr::as_ptr)
}

fn check(rc: c_int) -> Result<(), c_int> {
    if rc < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

fn errno() -> c_int {
    unsafe { *libc::__errno_location() }
}
