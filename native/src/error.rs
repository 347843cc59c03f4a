//! The error of every fallible operation of the crate, as plain data: js.rs throws it as a
//! JavaScript exception, and the monitor (detach/wire.rs) sends it back to the addon, which
//! throws it as if the failure had happened in-process. Free of N-API so that the monitor binary
//! shares it; its texts are owned where they cross that pipe.

use std::borrow::Cow;
use std::ffi::{c_int, CStr};

use crate::errno::SysError;

pub enum Error {
    /// A bad argument: a TypeError, or a RangeError for a number out of range, with the code
    /// Node's own argument checks use.
    Arg {
        range: bool,
        code: Cow<'static, CStr>,
        message: String,
    },
    /// A failed system call: an Error like Node's fs errors (code, errno, syscall, path).
    Sys(SysError),
    /// A step of starting a container failed in the child, before exec: an Error like `Sys`
    /// with its own message (Docker's wording for exec) and, for exec, the exit code Docker
    /// reports (127: not found, 126: not executable).
    Child {
        err: SysError,
        message: String,
        exit_code: Option<i32>,
    },
    /// An N-API call failed; N-API has usually set an exception already.
    Napi { call: &'static str, status: c_int },
    /// The monitor of a detached process failed outside any step of the start: it is from
    /// another build than the addon, or it died before it replied.
    Monitor(String),
}

impl From<SysError> for Error {
    fn from(err: SysError) -> Error {
        Error::Sys(err)
    }
}
