//! berth's N-API addon: the Linux system calls the TypeScript side cannot make through node:fs.
//! And the container runtime: processes in new namespaces on an overlay rootfs (container/),
//! embedded (children of Node) or detached under a monitor process of their own (detach/; the
//! monitor binary is src/monitor/, built from the same container modules without N-API).
//!
//! Layout: `napi` declares the N-API C functions by hand (no napi crates offline), `js` bridges
//! them to plain Rust, `exports` lists what JavaScript sees, and one module per concern does the
//! work without knowing about N-API.

#[cfg(not(target_os = "linux"))]
compile_error!("berth's native addon is Linux-only; other systems use the WASI backend");

mod container;
mod detach;
mod detached_mount;
mod errno;
mod error;
mod exports;
mod extract;
mod handles;
mod inode;
mod js;
mod js_object;
mod napi;
mod promise;
mod xattr;
mod zstd;

use napi::{napi_env, napi_value};

/// Node calls this when it loads the addon (the symbol NAPI_MODULE_INIT defines in C).
///
/// # Safety
/// Called by Node with a valid environment and exports object.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    js::register(env, exports, exports::EXPORTS)
}
