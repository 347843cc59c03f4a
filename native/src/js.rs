//! The bridge between N-API and plain Rust. An exported function is a `fn(&Call) -> Result`:
//! this module checks the argument count, converts arguments and results, turns errors into
//! JavaScript exceptions shaped like Node's, and keeps panics from unwinding into Node.

use std::ffi::{c_void, CStr, CString};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::slice;

use crate::errno::SysError;
use crate::error::Error;
use crate::napi::*;

/// The most parameters an exported function may declare.
const MAX_ARGS: usize = 8;

/// Integers above this lose precision as JavaScript numbers.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// A function the addon exports, registered with `register`.
pub struct Export {
    pub name: &'static CStr,
    /// Parameter names: their count is the exact number of arguments the function takes.
    pub params: &'static [&'static str],
    pub call: fn(&Call) -> Result<napi_value, Error>,
}

/// Defines each export as a function property of `exports`.
///
/// # Safety
/// `env` and `exports` are the ones Node passed to `napi_register_module_v1`.
pub unsafe fn register(env: napi_env, exports: napi_value, table: &'static [Export]) -> napi_value {
    let outcome = panic::catch_unwind(|| {
        for export in table {
            let mut function = ptr::null_mut();
            let data = export as *const Export as *mut c_void;
            let name = export.name;
            check(
                napi_create_function(
                    env,
                    name.as_ptr(),
                    name.to_bytes().len(),
                    Some(trampoline),
                    data,
                    &mut function,
                ),
                "napi_create_function",
            )?;
            check(
                napi_set_named_property(env, exports, name.as_ptr(), function),
                "napi_set_named_property",
            )?;
        }
        Ok(exports)
    });
    finish(env, outcome)
}

/// The one native callback of every export; `data` is its `Export`.
unsafe extern "C" fn trampoline(env: napi_env, info: napi_callback_info) -> napi_value {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut argc = MAX_ARGS;
        let mut argv = [ptr::null_mut(); MAX_ARGS];
        let mut data = ptr::null_mut();
        check(
            napi_get_cb_info(
                env,
                info,
                &mut argc,
                argv.as_mut_ptr(),
                ptr::null_mut(),
                &mut data,
            ),
            "napi_get_cb_info",
        )?;
        let export = &*(data as *const Export);
        let call = Call { env, export, argv };
        if argc != export.params.len() {
            return Err(call.count_error(argc));
        }
        (export.call)(&call)
    }));
    finish(env, outcome)
}

unsafe fn finish(
    env: napi_env,
    outcome: std::thread::Result<Result<napi_value, Error>>,
) -> napi_value {
    match outcome {
        Ok(Ok(value)) => value,
        Ok(Err(err)) => {
            throw(env, err);
            ptr::null_mut()
        }
        Err(_) => {
            let message =
                c"internal error in berth's native addon (a Rust panic): please report it";
            napi_throw_error(env, ptr::null(), message.as_ptr());
            ptr::null_mut()
        }
    }
}

/// One call of an exported function: its arguments and the values it returns.
pub struct Call {
    pub(crate) env: napi_env,
    export: &'static Export,
    argv: [napi_value; MAX_ARGS],
}

impl Call {
    /// A string argument without NUL bytes, as the C string a syscall takes.
    pub fn string(&self, index: usize) -> Result<CString, Error> {
        let value = self.expect_type(index, NAPI_STRING, "a string")?;
        utf8_cstring(self.env, value, || {
            format!(
                "{} must be a string without null bytes",
                self.describe(index)
            )
        })
    }

    pub fn u32(&self, index: usize) -> Result<u32, Error> {
        Ok(self.integer(index, 0, u32::MAX.into())? as u32)
    }

    /// An integer JavaScript represents exactly (Number.isSafeInteger).
    pub fn safe_integer(&self, index: usize) -> Result<i64, Error> {
        self.integer(index, -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    }

    /// An integer number in min..=max (both within the safe integers).
    pub fn integer(&self, index: usize, min: i64, max: i64) -> Result<i64, Error> {
        let value = self.expect_type(index, NAPI_NUMBER, "a number")?;
        let mut number = 0.0;
        unsafe {
            check(
                napi_get_value_double(self.env, value, &mut number),
                "napi_get_value_double",
            )?
        };
        // Comparing as f64 is exact: min and max are safe integers.
        if number.fract() != 0.0 || !(min as f64..=max as f64).contains(&number) {
            return Err(Error::Arg {
                range: true,
                code: c"ERR_OUT_OF_RANGE".into(),
                message: format!(
                    "{} must be an integer from {min} to {max}, got {number}",
                    self.describe(index)
                ),
            });
        }
        Ok(number as i64)
    }

    /// A Buffer or Uint8Array argument's bytes, valid for the duration of the call.
    pub fn bytes(&self, index: usize) -> Result<&[u8], Error> {
        let value = self.argv[index];
        if let Some(bytes) = self.uint8_array(value) {
            return Ok(bytes);
        }
        let mut is_typedarray = false;
        unsafe {
            check(
                napi_is_typedarray(self.env, value, &mut is_typedarray),
                "napi_is_typedarray",
            )?
        };
        let got = if is_typedarray {
            "another typed array"
        } else {
            self.type_name(value)?
        };
        Err(self.type_error(index, "a Buffer or Uint8Array", got))
    }

    /// The bytes of `value` if it is a Buffer or Uint8Array, valid for the duration of the call
    /// (its backing store does not move).
    pub fn uint8_array(&self, value: napi_value) -> Option<&[u8]> {
        let mut is_typedarray = false;
        if unsafe { napi_is_typedarray(self.env, value, &mut is_typedarray) } != NAPI_OK
            || !is_typedarray
        {
            return None;
        }
        let (mut kind, mut len, mut data) = (-1, 0, ptr::null_mut());
        let status = unsafe {
            napi_get_typedarray_info(
                self.env,
                value,
                &mut kind,
                &mut len,
                &mut data,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if status != NAPI_OK || kind != NAPI_UINT8_ARRAY {
            return None;
        }
        // N-API's data already points at the view's first byte; an empty view may have none.
        if len == 0 || data.is_null() {
            return Some(&[]);
        }
        Some(unsafe { slice::from_raw_parts(data as *const u8, len) })
    }

    pub fn undefined(&self) -> Result<napi_value, Error> {
        let mut value = ptr::null_mut();
        unsafe {
            check(
                napi_get_undefined(self.env, &mut value),
                "napi_get_undefined",
            )?
        };
        Ok(value)
    }

    pub fn null(&self) -> Result<napi_value, Error> {
        let mut value = ptr::null_mut();
        unsafe { check(napi_get_null(self.env, &mut value), "napi_get_null")? };
        Ok(value)
    }

    /// A new Buffer holding a copy of `bytes`.
    pub fn buffer(&self, bytes: &[u8]) -> Result<napi_value, Error> {
        let mut value = ptr::null_mut();
        unsafe {
            check(
                napi_create_buffer_copy(
                    self.env,
                    bytes.len(),
                    bytes.as_ptr().cast(),
                    ptr::null_mut(),
                    &mut value,
                ),
                "napi_create_buffer_copy",
            )?;
        }
        Ok(value)
    }

    /// An array of strings decoded from UTF-8 (invalid sequences become U+FFFD).
    pub fn strings(&self, items: &[Vec<u8>]) -> Result<napi_value, Error> {
        let mut array = ptr::null_mut();
        unsafe {
            check(
                napi_create_array_with_length(self.env, items.len(), &mut array),
                "napi_create_array_with_length",
            )?;
            // JavaScript arrays hold at most 2^32 - 1 elements, as many as u32 indexes name.
            for (index, item) in (0u32..).zip(items) {
                check(
                    napi_set_element(self.env, array, index, string(self.env, item)?),
                    "napi_set_element",
                )?;
            }
        }
        Ok(array)
    }

    /// The raw argument, for readers of objects (js_object.rs).
    pub(crate) fn arg(&self, index: usize) -> napi_value {
        self.argv[index]
    }

    fn expect_type(
        &self,
        index: usize,
        expected: napi_valuetype,
        what: &str,
    ) -> Result<napi_value, Error> {
        let value = self.argv[index];
        let mut actual = NAPI_UNDEFINED;
        unsafe { check(napi_typeof(self.env, value, &mut actual), "napi_typeof")? };
        if actual != expected {
            return Err(self.type_error(index, what, type_name(actual)));
        }
        Ok(value)
    }

    fn type_name(&self, value: napi_value) -> Result<&'static str, Error> {
        let mut actual = NAPI_UNDEFINED;
        unsafe { check(napi_typeof(self.env, value, &mut actual), "napi_typeof")? };
        Ok(type_name(actual))
    }

    fn type_error(&self, index: usize, expected: &str, got: &str) -> Error {
        Error::Arg {
            range: false,
            code: c"ERR_INVALID_ARG_TYPE".into(),
            message: format!("{} must be {expected}, got {got}", self.describe(index)),
        }
    }

    fn count_error(&self, argc: usize) -> Error {
        let params = self.export.params;
        Error::Arg {
            range: false,
            code: if argc < params.len() {
                c"ERR_MISSING_ARGS".into()
            } else {
                c"ERR_INVALID_ARG_COUNT".into()
            },
            message: format!(
                "{}({}) takes {} argument{}, got {argc}",
                self.export.name.to_string_lossy(),
                params.join(", "),
                params.len(),
                if params.len() == 1 { "" } else { "s" },
            ),
        }
    }

    /// The name the function's parameter `index` has in its declaration.
    pub(crate) fn param(&self, index: usize) -> &'static str {
        self.export.params.get(index).copied().unwrap_or("argument")
    }

    pub(crate) fn function_name(&self) -> std::borrow::Cow<'static, str> {
        self.export.name.to_string_lossy()
    }

    /// `mknod: "major"`.
    fn describe(&self, index: usize) -> String {
        let param = self.param(index);
        format!("{}: \"{param}\"", self.export.name.to_string_lossy())
    }
}

pub(crate) fn type_name(kind: napi_valuetype) -> &'static str {
    match kind {
        NAPI_UNDEFINED => "undefined",
        NAPI_NULL => "null",
        NAPI_BOOLEAN => "boolean",
        NAPI_NUMBER => "number",
        NAPI_STRING => "string",
        NAPI_SYMBOL => "symbol",
        NAPI_OBJECT => "object",
        NAPI_FUNCTION => "function",
        NAPI_EXTERNAL => "external",
        NAPI_BIGINT => "bigint",
        _ => "an unknown type",
    }
}

pub(crate) fn check(status: napi_status, call: &'static str) -> Result<(), Error> {
    if status == NAPI_OK {
        Ok(())
    } else {
        Err(Error::Napi { call, status })
    }
}

pub(crate) unsafe fn string(env: napi_env, utf8: &[u8]) -> Result<napi_value, Error> {
    let mut value = ptr::null_mut();
    check(
        napi_create_string_utf8(env, utf8.as_ptr().cast(), utf8.len(), &mut value),
        "napi_create_string_utf8",
    )?;
    Ok(value)
}

/// A C string for a message; a NUL byte inside (never expected) is shown, not a reason to fail.
/// A JS string value as a C string; `nul_message` words the error for one holding a NUL byte.
pub(crate) fn utf8_cstring(
    env: napi_env,
    value: napi_value,
    nul_message: impl FnOnce() -> String,
) -> Result<CString, Error> {
    let mut len = 0;
    unsafe {
        check(
            napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len),
            "napi_get_value_string_utf8",
        )?;
    }
    let mut buf = vec![0u8; len + 1];
    let mut written = 0;
    unsafe {
        check(
            napi_get_value_string_utf8(
                env,
                value,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut written,
            ),
            "napi_get_value_string_utf8",
        )?;
    }
    buf.truncate(written);
    CString::new(buf).map_err(|_| Error::Arg {
        range: false,
        code: c"ERR_INVALID_ARG_VALUE".into(),
        message: nul_message(),
    })
}

fn c_message(message: &str) -> CString {
    CString::new(message.replace('\0', "\\0")).unwrap_or_default()
}

unsafe fn throw(env: napi_env, err: Error) {
    // When throwing fails too (the heap is exhausted), there is nothing better to do.
    match err {
        Error::Arg {
            range,
            code,
            message,
        } => {
            let message = c_message(&message);
            if range {
                napi_throw_range_error(env, code.as_ptr(), message.as_ptr());
            } else {
                napi_throw_type_error(env, code.as_ptr(), message.as_ptr());
            }
        }
        Error::Sys(err) => {
            let message = err.to_string();
            if throw_sys(env, &err, &message, None).is_err() && !exception_pending(env) {
                napi_throw_error(env, ptr::null(), c_message(&message).as_ptr());
            }
        }
        Error::Child {
            err,
            message,
            exit_code,
        } => {
            if throw_sys(env, &err, &message, exit_code).is_err() && !exception_pending(env) {
                napi_throw_error(env, ptr::null(), c_message(&message).as_ptr());
            }
        }
        Error::Monitor(message) => {
            let message = c_message(&message);
            napi_throw_error(env, c"ERR_BERTH_MONITOR".as_ptr(), message.as_ptr());
        }
        Error::Napi { call, status } => {
            if !exception_pending(env) {
                let message = format!("berth's native addon: {call} failed (napi_status {status})");
                napi_throw_error(env, ptr::null(), c_message(&message).as_ptr());
            }
        }
    }
}

/// Throws an Error shaped as sys_error_value makes it.
unsafe fn throw_sys(
    env: napi_env,
    err: &SysError,
    message: &str,
    exit_code: Option<i32>,
) -> Result<(), Error> {
    let error = sys_error_value(env, err, message, exit_code)?;
    check(napi_throw(env, error), "napi_throw")
}

/// An Error with the properties of Node's fs errors: code, errno (negative, as libuv's), syscall
/// and path; and `exitCode` when given.
pub(crate) unsafe fn sys_error_value(
    env: napi_env,
    err: &SysError,
    message: &str,
    exit_code: Option<i32>,
) -> Result<napi_value, Error> {
    let message = string(env, message.as_bytes())?;
    let code = string(env, err.code().as_bytes())?;
    let mut error = ptr::null_mut();
    check(
        napi_create_error(env, code, message, &mut error),
        "napi_create_error",
    )?;
    let mut errno = ptr::null_mut();
    check(
        napi_create_int32(env, -err.errno, &mut errno),
        "napi_create_int32",
    )?;
    check(
        napi_set_named_property(env, error, c"errno".as_ptr(), errno),
        "napi_set_named_property",
    )?;
    let syscall = string(env, err.syscall.as_bytes())?;
    check(
        napi_set_named_property(env, error, c"syscall".as_ptr(), syscall),
        "napi_set_named_property",
    )?;
    let path = string(env, err.path.as_bytes())?;
    check(
        napi_set_named_property(env, error, c"path".as_ptr(), path),
        "napi_set_named_property",
    )?;
    if let Some(exit_code) = exit_code {
        let mut value = ptr::null_mut();
        check(
            napi_create_int32(env, exit_code, &mut value),
            "napi_create_int32",
        )?;
        check(
            napi_set_named_property(env, error, c"exitCode".as_ptr(), value),
            "napi_set_named_property",
        )?;
    }
    Ok(error)
}

unsafe fn exception_pending(env: napi_env) -> bool {
    let mut pending = false;
    napi_is_exception_pending(env, &mut pending) == NAPI_OK && pending
}
