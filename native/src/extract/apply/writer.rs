//! Applies a layer's entries into a directory in overlayfs' upper-directory format, as
//! containerd's overlay snapshotter unpacks a layer: `.wh.<name>` becomes a 0/0 char device,
//! `.wh..wh..opq` the `trusted.overlay.opaque=y` attribute on its directory; whiteout files
//! never appear. The semantics, step for step, of backends/linux-native/overlay-layer-writer.ts,
//! the reference implementation (test/native-extract.test.ts compares the two).
//!
//! Nothing is created or changed outside the directory: every operation is a *at call on a
//! descriptor of a directory of the layer (dir_cache.rs, opened with openat2 confined to the
//! directory above, through no symlink) and one name, whose last component is never followed.
//! Symlinks the layer itself holds are followed as containerd's fs.RootPath follows them
//! (root_path.rs), one component at a time and never above the layer's root.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::errno::SysError;

use super::dir_cache::DirCache;
use super::lower::{Lowers, OPAQUE_XATTR, OVERLAY_XATTR_PREFIX};
use super::meta::{Meta, Mtime, DEFAULT_DIR};
use super::remove::remove_all;
use super::sys::{self, is_dir, is_whiteout, Fail};
use crate::extract::archive::entry::{Entry, Kind};
use crate::extract::archive::reader::Body;
use crate::extract::error::{invalid, ExtractError};

/// The prefix that marks a whiteout (OCI image-spec, "Representing Changes").
const WHITEOUT_PREFIX: &str = ".wh.";
/// The name that makes its directory opaque: lower layers' children are hidden.
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

pub struct Options {
    /// The directories of the layers below, top first: implicit directories copy their metadata.
    pub lower_dirs: Vec<String>,
    /// Whether char and block device entries are created (needs root).
    pub allow_devices: bool,
}

/// What is being set up: directories' times wait for the end (creating their children changes
/// them); symlinks have no permissions of their own on Linux.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Node {
    Dir,
    Symlink,
    Other,
}

pub struct LayerWriter {
    /// As the caller named the directory, for messages.
    root_path: String,
    root: OwnedFd,
    /// The directories this layer has ("" is the root), with whether each is opaque. The
    /// directory starts empty and only this writer changes it, so this is exact: every
    /// directory under the root is here, and each one's parent too.
    pub(super) dirs: HashMap<String, bool>,
    /// Directories whose times are set last, with the order they were first set in.
    dir_times: HashMap<String, (u64, Mtime)>,
    next_seq: u64,
    cache: DirCache,
    lowers: Lowers,
    allow_devices: bool,
}

fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

pub(super) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// A name as the system calls take it. Deviation from the TypeScript extractor, where Node's
/// fs throws a TypeError (ERR_INVALID_ARG_VALUE) for a string with a NUL byte: INVALID_LAYER.
pub(super) fn c(name: &str, entry_path: &str) -> Result<CString, ExtractError> {
    CString::new(name).map_err(|_| {
        invalid(format!(
            "layer entry {entry_path}: a name in it holds a NUL byte"
        ))
    })
}

fn drain(body: &mut dyn Body) -> Result<(), ExtractError> {
    while body.next()?.is_some() {}
    Ok(())
}

/// Attributes the filesystem does not take (ENOTSUP, EPERM) are skipped, as Docker does; other
/// failures fail the layer.
fn xattr_outcome(result: Result<(), Fail>, path: String, key: &str) -> Result<(), ExtractError> {
    match result {
        Err(fail) if fail.errno != libc::EOPNOTSUPP && fail.errno != libc::EPERM => {
            Err(fail.about(path, key))
        }
        _ => Ok(()),
    }
}

/// Owner ids as lchown takes them. Deviation: where Node's lchown throws a RangeError
/// (ERR_OUT_OF_RANGE) for an id above 2^32 - 1, this is INVALID_LAYER.
fn ids(meta: &Meta, entry_path: &str) -> Result<(u32, u32), ExtractError> {
    let id = |value: u64, what: &str| {
        u32::try_from(value).map_err(|_| {
            invalid(format!(
                "layer entry {entry_path}: its {what} {value} is out of range"
            ))
        })
    };
    Ok((id(meta.uid, "uid")?, id(meta.gid, "gid")?))
}

fn device_number(value: u64, entry_path: &str) -> Result<u32, ExtractError> {
    u32::try_from(value).map_err(|_| {
        invalid(format!(
            "layer entry {entry_path}: device number {value} is out of range"
        ))
    })
}

/// Deviation: where the TypeScript extractor's lutimesNs throws a RangeError for a time beyond
/// what a JavaScript number holds to the nanosecond, this is INVALID_LAYER.
fn time_out_of_range(entry_path: &str) -> ExtractError {
    invalid(format!(
        "layer entry {entry_path}: its modification time is out of range"
    ))
}

impl LayerWriter {
    /// Opens the layer's directory, which must be empty (the writer keeps track of what it puts
    /// there). Fails with ENOSYS where the kernel has no openat2 (before Linux 5.6).
    pub fn open(root_path: &CStr, options: Options) -> Result<LayerWriter, SysError> {
        let shown = root_path.to_string_lossy().into_owned();
        let root = sys::open_root(root_path).map_err(|fail| SysError {
            syscall: fail.syscall.into(),
            path: shown.clone(),
            subject: None,
            errno: fail.errno,
        })?;
        Ok(LayerWriter {
            root_path: shown,
            root,
            dirs: HashMap::from([(String::new(), false)]),
            dir_times: HashMap::new(),
            next_seq: 0,
            cache: DirCache::default(),
            lowers: Lowers::new(options.lower_dirs),
            allow_devices: options.allow_devices,
        })
    }

    pub fn apply(&mut self, entry: &Entry, body: &mut dyn Body) -> Result<(), ExtractError> {
        let path = entry.path.as_str();
        let mut names: Vec<&str> = path
            .split('/')
            .filter(|n| !n.is_empty() && *n != ".")
            .collect();
        // The root's own entry: ignored, as containerd does.
        let Some(name) = names.pop() else {
            return drain(body);
        };
        if path.contains('\0') || entry.link_target.contains('\0') {
            return Err(invalid(format!(
                "layer entry {path}: a name in it holds a NUL byte"
            )));
        }
        if let Some(deleted) = name.strip_prefix(WHITEOUT_PREFIX) {
            drain(body)?;
            let dir = self.parent(&names, path)?;
            if name == OPAQUE_WHITEOUT {
                self.mark_opaque(&dir, path)?;
                if dir.is_empty() {
                    self.hide_lower_root(path)?;
                }
                return Ok(());
            }
            if deleted.is_empty() || deleted == "." || deleted == ".." {
                return Err(invalid(format!(
                    "layer entry {path}: invalid whiteout name {name}"
                )));
            }
            return self.whiteout(&join(&dir, deleted), path);
        }
        if entry.kind == Kind::Char && entry.dev_major == 0 && entry.dev_minor == 0 {
            drain(body)?;
            let dir = self.parent(&names, path)?;
            return self.whiteout(&join(&dir, name), path);
        }
        for (key, _) in &entry.xattrs {
            if key.starts_with(OVERLAY_XATTR_PREFIX) {
                return Err(invalid(format!(
                    "layer entry {path} sets {key}: overlayfs' own attributes are not allowed in a layer"
                )));
            }
        }
        let dir = self.parent(&names, path)?;
        let target = join(&dir, name);
        let meta = Meta::of(entry);
        match entry.kind {
            Kind::Directory => {
                drain(body)?;
                self.directory(&target, &meta, path)
            }
            Kind::Hardlink => {
                drain(body)?;
                self.hardlink(&target, entry)
            }
            Kind::File => self.file(&target, &meta, path, body),
            Kind::Symlink => {
                drain(body)?;
                if entry.link_target.is_empty() {
                    return Err(invalid(format!(
                        "layer entry {path}: symlink without a target"
                    )));
                }
                let link = c(&entry.link_target, path)?;
                self.create(&target, path, |dir, name| sys::symlink_at(&link, dir, name))?;
                self.set_meta(&target, Node::Symlink, &meta, path)
            }
            Kind::Char | Kind::Block => {
                drain(body)?;
                if !self.allow_devices {
                    return Err(invalid(format!(
                        "layer entry {path}: device nodes are not allowed"
                    )));
                }
                let kind = if entry.kind == Kind::Char {
                    libc::S_IFCHR
                } else {
                    libc::S_IFBLK
                };
                let (major, minor) = (
                    device_number(entry.dev_major, path)?,
                    device_number(entry.dev_minor, path)?,
                );
                let mode = kind | (entry.mode & 0o7777);
                self.create(&target, path, |dir, name| {
                    sys::mknod_at(dir, name, mode, major, minor)
                })?;
                self.set_meta(&target, Node::Other, &meta, path)
            }
            Kind::Fifo => {
                drain(body)?;
                let mode = libc::S_IFIFO | (entry.mode & 0o7777);
                self.create(&target, path, |dir, name| {
                    sys::mknod_at(dir, name, mode, 0, 0)
                })?;
                self.set_meta(&target, Node::Other, &meta, path)
            }
        }
    }

    /// Sets the directories' times, deepest first, once nothing will change them any more.
    pub fn finish(&mut self) -> Result<(), ExtractError> {
        let mut dirs: Vec<(String, (u64, Mtime))> = self.dir_times.drain().collect();
        dirs.sort_by(|(a, (first_a, _)), (b, (first_b, _))| {
            b.len().cmp(&a.len()).then(first_a.cmp(first_b))
        });
        for (path, (_, mtime)) in dirs {
            let time = mtime.time().ok_or_else(|| time_out_of_range(&path))?;
            let (dir, name) = split(&path);
            let cname = c(name, &path)?;
            let fd = self.dir_fd(dir)?;
            sys::utimes_at(fd, &cname, time).map_err(|f| f.at(self.shown(&path)))?;
        }
        Ok(())
    }

    /// `rel` as messages show it: under the directory as the caller named it.
    pub(super) fn shown(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.root_path.clone()
        } else {
            format!("{}/{rel}", self.root_path)
        }
    }

    /// The descriptor of the layer's directory `dir`, valid until the next call that removes
    /// something.
    pub(super) fn dir_fd(&mut self, dir: &str) -> Result<RawFd, ExtractError> {
        let opened = self.cache.get(self.root.as_raw_fd(), dir);
        opened.map_err(|(fail, depth)| {
            let failed: Vec<&str> = dir
                .split('/')
                .filter(|c| !c.is_empty())
                .take(depth + 1)
                .collect();
            fail.at(self.shown(&failed.join("/")))
        })
    }

    /// Makes `target` with `make`; where something is there already, removes it first (as the
    /// TypeScript extractor does before it creates anything).
    fn create(
        &mut self,
        target: &str,
        entry_path: &str,
        make: impl Fn(RawFd, &CStr) -> Result<(), Fail>,
    ) -> Result<(), ExtractError> {
        let (dir, name) = split(target);
        let cname = c(name, entry_path)?;
        let fd = self.dir_fd(dir)?;
        match make(fd, &cname) {
            Err(fail) if fail.errno == libc::EEXIST => {
                self.remove(target, entry_path)?;
                let fd = self.dir_fd(dir)?;
                make(fd, &cname).map_err(|f| f.at(self.shown(target)))
            }
            result => result.map_err(|f| f.at(self.shown(target))),
        }
    }

    fn directory(
        &mut self,
        target: &str,
        meta: &Meta,
        entry_path: &str,
    ) -> Result<(), ExtractError> {
        if self.dirs.contains_key(target) {
            return self.set_meta(target, Node::Dir, meta, entry_path);
        }
        let (dir, name) = split(target);
        let cname = c(name, entry_path)?;
        let fd = self.dir_fd(dir)?;
        let existed = match sys::mkdir_at(fd, &cname) {
            Ok(()) => false,
            Err(fail) if fail.errno == libc::EEXIST => true,
            Err(fail) => return Err(fail.at(self.shown(target))),
        };
        if existed {
            self.remove(target, entry_path)?;
            let fd = self.dir_fd(dir)?;
            sys::mkdir_at(fd, &cname).map_err(|f| f.at(self.shown(target)))?;
        }
        self.dirs.insert(target.to_owned(), false);
        self.set_meta(target, Node::Dir, meta, entry_path)?;
        // A directory replacing something of this layer (a whiteout, a file) was deleted below.
        if existed {
            self.mark_opaque(target, entry_path)?;
        }
        Ok(())
    }

    fn file(
        &mut self,
        target: &str,
        meta: &Meta,
        entry_path: &str,
        body: &mut dyn Body,
    ) -> Result<(), ExtractError> {
        let (dir, name) = split(target);
        let cname = c(name, entry_path)?;
        let fd = self.dir_fd(dir)?;
        // O_EXCL: nothing may be written through what was there (a planted symlink): it is
        // removed, and the name made anew.
        let file = match sys::create_file(fd, &cname) {
            Ok(file) => file,
            Err(fail) if fail.errno == libc::EEXIST => {
                self.remove(target, entry_path)?;
                let fd = self.dir_fd(dir)?;
                sys::create_file(fd, &cname).map_err(|f| f.at(self.shown(target)))?
            }
            Err(fail) => return Err(fail.at(self.shown(target))),
        };
        while let Some(data) = body.next()? {
            sys::write_all(&file, data).map_err(|f| f.at(self.shown(target)))?;
        }
        let (uid, gid) = ids(meta, entry_path)?;
        sys::fchown(&file, uid, gid).map_err(|f| f.at(self.shown(target)))?;
        // After chown, which clears setuid and setgid.
        sys::fchmod(&file, meta.mode & 0o7777).map_err(|f| f.at(self.shown(target)))?;
        for (key, value) in &meta.xattrs {
            let result = sys::fsetxattr(file.as_raw_fd(), &c(key, entry_path)?, value);
            xattr_outcome(result, self.shown(target), key)?;
        }
        let time = meta
            .mtime
            .time()
            .ok_or_else(|| time_out_of_range(entry_path))?;
        sys::futimes(&file, time).map_err(|f| f.at(self.shown(target)))
    }

    /// Links to a file this layer already holds; Docker refuses any other target. The link is
    /// made under a temporary name first: the target may lie inside what the new name replaces.
    fn hardlink(&mut self, target: &str, entry: &Entry) -> Result<(), ExtractError> {
        let (path, link) = (entry.path.as_str(), entry.link_target.as_str());
        let not_here = || {
            invalid(format!(
                "layer entry {path}: hardlink to {link}, which is not in this layer"
            ))
        };
        let mut names: Vec<&str> = link
            .split('/')
            .filter(|n| !n.is_empty() && *n != ".")
            .collect();
        let Some(last) = names.pop() else {
            return Err(not_here());
        };
        let source_dir = self.resolve(&names, path)?.join("/");
        let clast = c(last, path)?;
        let info = match self.dir_fd(&source_dir) {
            Ok(fd) => sys::lstat_at(fd, &clast).ok().flatten(),
            Err(_) => None,
        };
        match info {
            None => return Err(not_here()),
            Some(st) if is_whiteout(&st) => return Err(not_here()),
            Some(st) if is_dir(&st) => {
                return Err(invalid(format!(
                    "layer entry {path}: hardlink to {link}, a directory"
                )));
            }
            Some(_) => {}
        }
        let random: String = sys::random_bytes::<6>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let temp = format!(".berth-link-{random}");
        let ctemp = c(&temp, path)?;
        let fd = self.dir_fd(&source_dir)?;
        sys::link_at(fd, &clast, self.root.as_raw_fd(), &ctemp)
            .map_err(|f| f.at(self.shown(&join(&source_dir, last))))?;
        self.remove(target, path)?;
        let (dir, name) = split(target);
        let cname = c(name, path)?;
        let fd = self.dir_fd(dir)?;
        sys::rename_at(self.root.as_raw_fd(), &ctemp, fd, &cname)
            .map_err(|f| f.at(self.shown(&temp)))
    }

    /// overlayfs ignores the opaque attribute on a layer's root directory, so an opaque root
    /// hides the lower layers' names itself: a whiteout for each, or, where this layer already
    /// has a directory of that name, the opaque attribute on it (overlayfs honours that one).
    fn hide_lower_root(&mut self, entry_path: &str) -> Result<(), ExtractError> {
        for name in self.lowers.root_names()? {
            let cname = c(&name, entry_path)?;
            let root = self.root.as_raw_fd();
            match sys::lstat_at(root, &cname).ok().flatten() {
                None => sys::mknod_at(root, &cname, libc::S_IFCHR, 0, 0)
                    .map_err(|f| f.at(self.shown(&name)))?,
                Some(st) if is_dir(&st) => self.mark_opaque(&name, entry_path)?,
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn whiteout(&mut self, target: &str, entry_path: &str) -> Result<(), ExtractError> {
        self.create(target, entry_path, |dir, name| {
            sys::mknod_at(dir, name, libc::S_IFCHR, 0, 0)
        })
    }

    /// Removes what this layer put at `target`, and forgets the directories under it.
    fn remove(&mut self, target: &str, entry_path: &str) -> Result<(), ExtractError> {
        let (dir, name) = split(target);
        let cname = c(name, entry_path)?;
        let fd = self.dir_fd(dir)?;
        remove_all(fd, &cname).map_err(|f| f.at(self.shown(target)))?;
        if self.dirs.contains_key(target) {
            let below = format!("{target}/");
            let inside = |path: &String| path == target || path.starts_with(&below);
            self.dir_times.retain(|path, _| !inside(path));
            self.dirs.retain(|path, _| !inside(path));
            self.cache.forget(target);
        }
        Ok(())
    }

    /// The entry's parent directory, created (with its ancestors) where the layer leaves it implicit.
    fn parent(&mut self, names: &[&str], entry_path: &str) -> Result<String, ExtractError> {
        let resolved = self.resolve(names, entry_path)?;
        let mut dir = String::new();
        // Below a directory this layer made opaque, lower layers show nothing to copy from.
        let mut hides_lower = self.dirs.get("") == Some(&true);
        for (i, name) in resolved.iter().enumerate() {
            if name.starts_with(WHITEOUT_PREFIX) {
                return Err(invalid(format!(
                    "layer entry {entry_path}: whiteout name {name} used as a directory"
                )));
            }
            let next = join(&dir, name);
            if !self.dirs.contains_key(&next) {
                let cname = c(name, entry_path)?;
                let fd = self.dir_fd(&dir)?;
                match sys::lstat_at(fd, &cname).ok().flatten() {
                    None => {
                        sys::mkdir_at(fd, &cname).map_err(|f| f.at(self.shown(&next)))?;
                        self.dirs.insert(next.clone(), false);
                        let meta = if hides_lower {
                            DEFAULT_DIR
                        } else {
                            self.lowers.implicit_meta(&resolved[..=i])?
                        };
                        self.set_meta(&next, Node::Dir, &meta, entry_path)?;
                    }
                    // A directory implied under a name this layer whited out: lower content stays hidden.
                    Some(st) if is_whiteout(&st) => {
                        self.remove(&next, entry_path)?;
                        let fd = self.dir_fd(&dir)?;
                        sys::mkdir_at(fd, &cname).map_err(|f| f.at(self.shown(&next)))?;
                        self.dirs.insert(next.clone(), false);
                        self.set_meta(&next, Node::Dir, &DEFAULT_DIR, entry_path)?;
                        self.mark_opaque(&next, entry_path)?;
                    }
                    Some(_) => {}
                }
            }
            hides_lower |= self.dirs.get(&next) == Some(&true);
            dir = next;
        }
        Ok(dir)
    }

    fn mark_opaque(&mut self, dir: &str, entry_path: &str) -> Result<(), ExtractError> {
        let result = if dir.is_empty() {
            sys::fsetxattr(self.root.as_raw_fd(), OPAQUE_XATTR, b"y")
        } else {
            let (parent, name) = split(dir);
            let cname = c(name, entry_path)?;
            let fd = self.dir_fd(parent)?;
            sys::setxattr_at(fd, &cname, OPAQUE_XATTR, b"y")
        };
        result.map_err(|f| f.about(self.shown(dir), "trusted.overlay.opaque"))?;
        self.dirs.insert(dir.to_owned(), true);
        Ok(())
    }

    fn set_meta(
        &mut self,
        target: &str,
        node: Node,
        meta: &Meta,
        entry_path: &str,
    ) -> Result<(), ExtractError> {
        let (dir, name) = split(target);
        let cname = c(name, entry_path)?;
        let (uid, gid) = ids(meta, entry_path)?;
        let fd = self.dir_fd(dir)?;
        sys::chown_at(fd, &cname, uid, gid).map_err(|f| f.at(self.shown(target)))?;
        // After chown, which clears setuid and setgid; symlinks have no mode of their own on Linux.
        if node != Node::Symlink {
            sys::chmod_at(fd, &cname, meta.mode & 0o7777).map_err(|f| f.at(self.shown(target)))?;
        }
        for (key, value) in &meta.xattrs {
            let result = sys::setxattr_at(fd, &cname, &c(key, entry_path)?, value);
            xattr_outcome(result, self.shown(target), key)?;
        }
        if node == Node::Dir {
            let seq = self.next_seq;
            self.next_seq += 1;
            let first = self.dir_times.get(target).map_or(seq, |(first, _)| *first);
            self.dir_times
                .insert(target.to_owned(), (first, meta.mtime));
            return Ok(());
        }
        let time = meta
            .mtime
            .time()
            .ok_or_else(|| time_out_of_range(entry_path))?;
        sys::utimes_at(fd, &cname, time).map_err(|f| f.at(self.shown(target)))
    }
}
