//! The functions the addon exports to JavaScript, typed in
//! backends/linux-native/native-addon.ts. Each only converts: arguments in, a concern module's
//! result out.

use std::os::fd::{IntoRawFd, OwnedFd};
use std::ptr;

use crate::container::process::{self, Exit};
use crate::container::spawn;
use crate::container::spawn::Spawned;
use crate::container::spec::{
    CgroupPlacement, ExecSpec, ExtraMount, ExtraMountKind, Network, ProcessSpec, Rlimit,
    RootfsMount, SpawnSpec,
};
use crate::detach::launch;
use crate::detach::wire::{AttachSocket, Detach, LogFile, Started};
use crate::error::Error;
use crate::inode::{self, Timestamp};
use crate::js::{check, Call, Export};
use crate::js_object::Object;
use crate::napi::{
    napi_create_int32, napi_create_object, napi_env, napi_set_named_property, napi_value,
};
use crate::promise;
use crate::xattr;

pub static EXPORTS: &[Export] = &[
    Export {
        name: c"mknod",
        params: &["path", "mode", "major", "minor"],
        call: mknod,
    },
    Export {
        name: c"lsetxattr",
        params: &["path", "name", "value"],
        call: lsetxattr,
    },
    Export {
        name: c"lgetxattr",
        params: &["path", "name"],
        call: lgetxattr,
    },
    Export {
        name: c"llistxattr",
        params: &["path"],
        call: llistxattr,
    },
    Export {
        name: c"lutimesNs",
        params: &["path", "atimeSec", "atimeNsec", "mtimeSec", "mtimeNsec"],
        call: lutimes_ns,
    },
    Export {
        name: c"spawn",
        params: &["spec"],
        call: spawn,
    },
    Export {
        name: c"exec",
        params: &["pid", "spec"],
        call: exec,
    },
    Export {
        name: c"spawnDetached",
        params: &["spec", "detach"],
        call: spawn_detached,
    },
    Export {
        name: c"execDetached",
        params: &["pid", "spec", "exitPath"],
        call: exec_detached,
    },
    Export {
        name: c"resize",
        params: &["fd", "cols", "rows"],
        call: resize,
    },
    Export {
        name: c"wait",
        params: &["pid"],
        call: wait,
    },
    Export {
        name: c"kill",
        params: &["pid", "signal"],
        call: kill,
    },
    Export {
        name: c"extractStart",
        params: &["root", "options"],
        call: crate::extract::start,
    },
    Export {
        name: c"extractPush",
        params: &["id", "input"],
        call: crate::extract::push,
    },
    Export {
        name: c"zstdVersion",
        params: &[],
        call: crate::zstd::version,
    },
    Export {
        name: c"zstdOpen",
        params: &[],
        call: crate::zstd::open,
    },
    Export {
        name: c"zstdDecode",
        params: &["id", "input"],
        call: crate::zstd::decode,
    },
    Export {
        name: c"zstdFree",
        params: &["id"],
        call: crate::zstd::free,
    },
    Export {
        name: c"zstdStats",
        params: &[],
        call: crate::zstd::stats,
    },
    Export {
        name: c"mountDetached",
        params: &["mount"],
        call: mount_detached,
    },
];

fn mknod(call: &Call) -> Result<napi_value, Error> {
    inode::mknod(&call.string(0)?, call.u32(1)?, call.u32(2)?, call.u32(3)?)?;
    call.undefined()
}

fn lsetxattr(call: &Call) -> Result<napi_value, Error> {
    xattr::lset(&call.string(0)?, &call.string(1)?, call.bytes(2)?)?;
    call.undefined()
}

fn lgetxattr(call: &Call) -> Result<napi_value, Error> {
    match xattr::lget(&call.string(0)?, &call.string(1)?)? {
        Some(value) => call.buffer(&value),
        None => call.null(),
    }
}

fn llistxattr(call: &Call) -> Result<napi_value, Error> {
    call.strings(&xattr::llist(&call.string(0)?)?)
}

fn lutimes_ns(call: &Call) -> Result<napi_value, Error> {
    let atime = Timestamp {
        sec: call.safe_integer(1)?,
        nsec: nanoseconds(call, 2)?,
    };
    let mtime = Timestamp {
        sec: call.safe_integer(3)?,
        nsec: nanoseconds(call, 4)?,
    };
    inode::lutimes_ns(&call.string(0)?, atime, mtime)?;
    call.undefined()
}

fn nanoseconds(call: &Call, index: usize) -> Result<u32, Error> {
    Ok(call.integer(index, 0, 999_999_999)? as u32)
}

fn spawn(call: &Call) -> Result<napi_value, Error> {
    let spec = spawn_spec(&call.object(0)?)?;
    spawned_to_js(call, spawn::spawn(&spec, spawn::NewNetwork::Pooled)?)
}

fn exec(call: &Call) -> Result<napi_value, Error> {
    spawned_to_js(call, spawn::exec(&exec_spec(call)?)?)
}

fn exec_spec(call: &Call) -> Result<ExecSpec, Error> {
    let pid = pid(call)?;
    let spec = call.object(1)?;
    Ok(ExecSpec {
        pid,
        cgroup: cgroup_placement(&spec)?,
        process: process_spec(&spec)?,
    })
}

fn spawn_detached(call: &Call) -> Result<napi_value, Error> {
    let spec = spawn_spec(&call.object(0)?)?;
    let detach = call.object(1)?;
    let rotation = detach.opt_object(c"rotation")?.ok_or_else(|| {
        detach.invalid("detach.rotation", "must be an object, got undefined".into())
    })?;
    let log = LogFile {
        path: detach.string(c"logPath")?,
        max_size: rotation.limit(c"maxSize")?,
        max_file: rotation.u32_or(c"maxFile", 1)?,
    };
    let attach = match detach.opt_object(c"attach")? {
        Some(attach) => Some(AttachSocket {
            path: attach.string(c"socketPath")?,
            stdin: attach.bool(c"stdin")?,
            await_client: attach.bool(c"awaitClient")?,
        }),
        None => None,
    };
    let detach = Detach {
        log: Some(log),
        exit_path: detach.string(c"exitPath")?,
        attach,
    };
    started_to_js(call, launch::spawn_detached(spec, detach)?)
}

fn exec_detached(call: &Call) -> Result<napi_value, Error> {
    let detach = Detach {
        log: None,
        exit_path: call.string(2)?,
        attach: None,
    };
    started_to_js(call, launch::exec_detached(exec_spec(call)?, detach)?)
}

fn started_to_js(call: &Call, started: Started) -> Result<napi_value, Error> {
    let result = call.new_object()?;
    result.set_number(c"pid", started.pid.into())?;
    result.set_number(c"monitorPid", started.monitor_pid.into())?;
    Ok(result.value())
}

fn spawned_to_js(call: &Call, spawned: Spawned) -> Result<napi_value, Error> {
    let result = call.new_object()?;
    result.set_number(c"pid", spawned.pid.into())?;
    let fds = [
        (c"stdin", spawned.stdin),
        (c"stdout", spawned.stdout),
        (c"stderr", spawned.stderr),
        (c"terminal", spawned.terminal),
    ];
    for (name, fd) in fds {
        if let Some(fd) = fd {
            // JavaScript owns the descriptor from here and closes it.
            result.set_number(name, OwnedFd::into_raw_fd(fd).into())?;
        }
    }
    Ok(result.value())
}

fn spawn_spec(spec: &Object) -> Result<SpawnSpec, Error> {
    let root = spec
        .opt_object(c"root")?
        .ok_or_else(|| spec.invalid("spec.root", "must be an object, got undefined".into()))?;
    let rootfs = root
        .objects(c"mounts")?
        .iter()
        .map(|m| {
            Ok(RootfsMount {
                kind: m.string(c"type")?,
                source: m.string(c"source")?,
                options: m.strings(c"options")?,
                cwd: m.opt_string(c"cwd")?,
            })
        })
        .collect::<Result<_, Error>>()?;
    let mounts = spec
        .objects(c"mounts")?
        .iter()
        .map(|m| {
            let kind = match m.string(c"type")?.to_bytes() {
                b"bind" => ExtraMountKind::Bind {
                    source: m.string(c"source")?,
                },
                b"tmpfs" => ExtraMountKind::Tmpfs,
                other => {
                    let other = String::from_utf8_lossy(other);
                    return Err(m.invalid_value(
                        c"type",
                        format!("must be \"bind\" or \"tmpfs\", got {other:?}"),
                    ));
                }
            };
            Ok(ExtraMount {
                kind,
                destination: m.string(c"destination")?,
                options: m.strings(c"options")?,
            })
        })
        .collect::<Result<_, Error>>()?;
    let network = match spec
        .opt_string(c"network")?
        .as_deref()
        .map(|n| n.to_bytes())
    {
        None | Some(b"none") => Network::None,
        Some(b"host") => Network::Host,
        Some(other) => {
            let other = String::from_utf8_lossy(other);
            return Err(spec.invalid_value(
                c"network",
                format!("must be \"none\" or \"host\", got {other:?}"),
            ));
        }
    };
    Ok(SpawnSpec {
        root_path: root.string(c"path")?,
        rootfs,
        readonly_rootfs: root.bool(c"readonly")?,
        hostname: spec.opt_string(c"hostname")?,
        network,
        mounts,
        masked_paths: spec.strings(c"maskedPaths")?,
        readonly_paths: spec.strings(c"readonlyPaths")?,
        cgroup: cgroup_placement(spec)?,
        process: process_spec(spec)?,
    })
}

fn cgroup_placement(spec: &Object) -> Result<CgroupPlacement, Error> {
    Ok(match spec.opt_object(c"cgroup")? {
        Some(cgroup) => CgroupPlacement {
            procs_files: cgroup.strings(c"procsFiles")?,
            dir: cgroup.opt_string(c"dir")?,
        },
        None => CgroupPlacement::default(),
    })
}

fn process_spec(spec: &Object) -> Result<ProcessSpec, Error> {
    let rlimits = spec
        .objects(c"rlimits")?
        .iter()
        .map(|r| {
            Ok(Rlimit {
                kind: r.string(c"type")?,
                soft: r.limit(c"soft")?,
                hard: r.limit(c"hard")?,
            })
        })
        .collect::<Result<_, Error>>()?;
    let user = spec.opt_object(c"user")?;
    let (uid, gid, additional_gids) = match &user {
        Some(user) => (
            user.u32_or(c"uid", 0)?,
            user.u32_or(c"gid", 0)?,
            user.u32s(c"additionalGids")?,
        ),
        None => (0, 0, Vec::new()),
    };
    let stdio = spec.opt_object(c"stdio")?;
    let wants = |name| stdio.as_ref().map_or(Ok(false), |s: &Object| s.bool(name));
    let terminal = match spec.opt_object(c"terminal")? {
        Some(size) => Some((size.u16_or(c"cols", 80)?, size.u16_or(c"rows", 24)?)),
        None => None,
    };
    Ok(ProcessSpec {
        terminal,
        args: spec.strings(c"args")?,
        env: spec.strings(c"env")?,
        cwd: spec.opt_string(c"cwd")?.unwrap_or_else(|| c"/".into()),
        uid,
        gid,
        additional_gids,
        rlimits,
        capabilities: spec.strings(c"capabilities")?,
        stdin: wants(c"stdin")?,
        stdout: wants(c"stdout")?,
        stderr: wants(c"stderr")?,
    })
}

fn pid(call: &Call) -> Result<libc::pid_t, Error> {
    // 0 and negative pids name process groups in kill(2) and waitpid(2): never those.
    Ok(call.integer(0, 1, i32::MAX.into())? as libc::pid_t)
}

fn wait(call: &Call) -> Result<napi_value, Error> {
    let pid = pid(call)?;
    promise::on_thread(call, move || process::wait(pid), exit_to_js)
}

fn exit_to_js(
    env: napi_env,
    exit: Result<Exit, crate::errno::SysError>,
) -> Result<napi_value, Error> {
    let (name, value) = match exit {
        Ok(Exit::Code(code)) => (c"exitCode", code),
        Ok(Exit::Signal(signal)) => (c"signal", signal),
        // Only ECHILD: the pid is not a child of this process, or was reaped already.
        Err(err) => (c"error", -err.errno),
    };
    let mut object = ptr::null_mut();
    let mut number = ptr::null_mut();
    unsafe {
        check(napi_create_object(env, &mut object), "napi_create_object")?;
        check(
            napi_create_int32(env, value, &mut number),
            "napi_create_int32",
        )?;
        check(
            napi_set_named_property(env, object, name.as_ptr(), number),
            "napi_set_named_property",
        )?;
    }
    Ok(object)
}

fn kill(call: &Call) -> Result<napi_value, Error> {
    process::kill(pid(call)?, call.integer(1, 0, 64)? as i32)?;
    call.undefined()
}

fn resize(call: &Call) -> Result<napi_value, Error> {
    let fd = call.integer(0, 0, i32::MAX.into())? as i32;
    let cols = call.integer(1, 0, u16::MAX.into())? as u16;
    let rows = call.integer(2, 0, u16::MAX.into())? as u16;
    spawn::resize(fd, cols, rows)?;
    call.undefined()
}

fn mount_detached(call: &Call) -> Result<napi_value, Error> {
    let mount = call.object(0)?;
    let fd = crate::detached_mount::mount_detached(crate::detached_mount::DetachedMount {
        kind: mount.string(c"type")?,
        source: mount.string(c"source")?,
        options: mount.strings(c"options")?,
        cwd: mount.opt_string(c"cwd")?,
    })?;
    let result = call.new_object()?;
    // JavaScript owns the descriptor from here and closes it (which unmounts).
    result.set_number(c"fd", OwnedFd::into_raw_fd(fd).into())?;
    Ok(result.value())
}
