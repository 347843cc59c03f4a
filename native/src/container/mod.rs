//! Starting container processes: a spec (spec.rs) is checked and turned into everything the
//! child needs (prepare.rs), then cloned into new namespaces (spawn.rs), where the child sets up
//! its root filesystem and identity with async-signal-safe calls only and execs (child.rs);
//! program.rs builds the list of steps the child runs.
//! An exec into a running container is prepared the same way, with setns steps instead of the
//! root filesystem. The child joins its cgroup before it runs any step (v2: clone3 creates it there).
//! Waiting and signalling are in process.rs.

mod capabilities;
mod child;
mod mount_options;
mod netns_pool;
mod prepare;
pub mod process;
mod program;
pub mod spawn;
pub mod spec;
