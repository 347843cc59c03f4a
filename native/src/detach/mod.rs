//! Detached processes (DESIGN.md, native process model): a container's init, or an exec, whose
//! parent is a small monitor process of its own (native/berth-monitor, src/monitor/) instead of
//! this one, so that it outlives the engine. launch.rs starts a monitor and hands it the spec;
//! wire.rs is the protocol both sides speak.

pub mod launch;
// The addon encodes requests and decodes replies, the monitor the other way round: each
// build uses half of the protocol.
#[allow(dead_code)]
pub mod wire;
