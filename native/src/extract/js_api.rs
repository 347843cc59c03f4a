//! What JavaScript calls: `extractStart` and `extractPush` (listed in src/exports.rs, typed in
//! backends/linux-native/native-addon.ts). An extraction is a session, named to JavaScript by a
//! number, with a thread of its own that parses and writes; its promises settle through a
//! threadsafe function, so the event loop never waits on the disk. The threadsafe function
//! keeps the event loop alive until the extraction thread ends, which it does once JavaScript
//! has ended or aborted the input (as backends/linux-native/native-extract.ts always does).

use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::{Arc, MutexGuard};
use std::thread;

use crate::error::Error;
use crate::handles::{id_value, Handles};
use crate::js::{check, string, sys_error_value, Call};
use crate::napi::*;

use super::apply::writer::{LayerWriter, Options};
use super::archive::input::Input;
use super::archive::reader::{Limits, TarReader};
use super::error::ExtractError;
use super::session::{Call as Step, Notice, Reply, Session, SessionSource, Settle};

/// A promise's resolver, settled on the JavaScript thread only (the extraction thread just
/// hands it back).
struct Deferred(napi_deferred);
// Never used off the JavaScript thread; only carried across.
unsafe impl Send for Deferred {}

struct Tsfn(napi_threadsafe_function);
// The threadsafe function is made to be called from other threads.
unsafe impl Send for Tsfn {}
unsafe impl Sync for Tsfn {}

static SESSIONS: Handles<Arc<Session<Deferred>>> = Handles::new();

fn sessions() -> MutexGuard<'static, HashMap<u32, Arc<Session<Deferred>>>> {
    SESSIONS.lock()
}

/// `extractStart(root, options)`: opens the layer's directory and starts the extraction thread;
/// returns the extraction's id for extractPush.
pub fn start(call: &Call) -> Result<napi_value, Error> {
    let root = call.string(0)?;
    let options = call.object(1)?;
    let lower_dirs = options
        .strings(c"lowerDirs")?
        .into_iter()
        .map(|dir| dir.to_string_lossy().into_owned())
        .collect();
    let allow_devices = options.bool(c"allowDevices")?;
    let limits = Limits {
        max_entries: options.limit(c"maxEntries")?,
        max_path_length: options.limit(c"maxPathLength")?,
        max_total_file_bytes: options.limit(c"maxTotalFileBytes")?,
    };
    let mut writer = LayerWriter::open(
        &root,
        Options {
            lower_dirs,
            allow_devices,
        },
    )?;

    let id = SESSIONS.next_id();
    let tsfn = Arc::new(Tsfn(threadsafe_function(call)?));
    let notify = tsfn.clone();
    let session = Arc::new(Session::new(Box::new(move |notice| {
        send(&notify, id, notice)
    })));
    sessions().insert(id, session.clone());
    let worker_tsfn = tsfn.clone();
    let started = thread::Builder::new().name("berth-extract".into()).spawn(move || {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut tar = TarReader::new(Input::new(SessionSource(session.clone())), limits);
            super::extract(&mut writer, &mut tar)
        }));
        let outcome = outcome.unwrap_or_else(|_| {
            Err(ExtractError::Internal(
                "internal error in berth's native addon (a Rust panic while extracting a layer): please report it".into(),
            ))
        });
        session.finish(outcome);
        // The last call: finish has sent whatever it had to.
        unsafe { napi_release_threadsafe_function(worker_tsfn.0, NAPI_TSFN_RELEASE) };
    });
    if started.is_err() {
        sessions().remove(&id);
        unsafe { napi_release_threadsafe_function(tsfn.0, NAPI_TSFN_RELEASE) };
        return Err(Error::Arg {
            range: false,
            code: c"ERR_BERTH_THREAD".into(),
            message: "extractStart: could not start a thread".into(),
        });
    }
    id_value(call.env, id)
}

enum Handed<'a> {
    Chunks(Vec<&'a [u8]>),
    End,
    Abort,
}

/// `extractPush(id, chunks | 'end' | 'abort')`: hands over chunks (resolves once there is room
/// for more), or ends the input (resolves once the layer is applied) or aborts it (resolves
/// once the extraction has stopped). Rejects with the extraction's error once it has failed.
pub fn push(call: &Call) -> Result<napi_value, Error> {
    let id = call.integer(0, 0, u32::MAX.into())? as u32;
    let input = input(call)?;
    let session = sessions().get(&id).cloned();
    let (deferred, promise) = promise(call.env)?;
    let waiter = Deferred(deferred);
    let Some(session) = session else {
        // Aborting what has already ended is how every extraction is cleaned up after a failure.
        return match input {
            Handed::Abort => settle(call.env, waiter, Settle::Resolve).map(|()| promise),
            _ => {
                let message = format!("extractPush: no extraction {id} is in progress");
                reject_state(call.env, waiter, &message).map(|()| promise)
            }
        };
    };
    let reply = match input {
        Handed::Chunks(chunks) => session.push(&chunks, waiter),
        Handed::End => session.end(Step::End, waiter),
        Handed::Abort => session.end(Step::Abort, waiter),
    };
    match reply {
        Reply::Now {
            waiter,
            settle: how,
            over,
        } => {
            if over {
                sessions().remove(&id);
            }
            settle(call.env, waiter, how)?;
        }
        Reply::Later => {}
        Reply::Refused(waiter, why) => {
            reject_state(call.env, waiter, &format!("extractPush: {why}"))?
        }
    }
    Ok(promise)
}

fn input(call: &Call) -> Result<Handed<'_>, Error> {
    let value = call.arg(1);
    let invalid = |got: &str| {
        Error::Arg {
        range: false,
        code: c"ERR_INVALID_ARG_TYPE".into(),
        message: format!("extractPush: \"input\" must be an array of Uint8Array, \"end\" or \"abort\", got {got}"),
    }
    };
    let mut kind = NAPI_UNDEFINED;
    unsafe { check(napi_typeof(call.env, value, &mut kind), "napi_typeof")? };
    if kind == NAPI_STRING {
        return match call.string(1)?.to_bytes() {
            b"end" => Ok(Handed::End),
            b"abort" => Ok(Handed::Abort),
            other => Err(invalid(&format!("{:?}", String::from_utf8_lossy(other)))),
        };
    }
    let mut is_array = false;
    unsafe {
        check(
            napi_is_array(call.env, value, &mut is_array),
            "napi_is_array",
        )?
    };
    if !is_array {
        return Err(invalid(crate::js::type_name(kind)));
    }
    let mut length = 0;
    unsafe {
        check(
            napi_get_array_length(call.env, value, &mut length),
            "napi_get_array_length",
        )?
    };
    let mut chunks = Vec::with_capacity(length as usize);
    for index in 0..length {
        let mut element = ptr::null_mut();
        unsafe {
            check(
                napi_get_element(call.env, value, index, &mut element),
                "napi_get_element",
            )?
        };
        chunks.push(
            call.uint8_array(element)
                .ok_or_else(|| invalid(&format!("an array holding something else at {index}")))?,
        );
    }
    Ok(Handed::Chunks(chunks))
}

fn threadsafe_function(call: &Call) -> Result<napi_threadsafe_function, Error> {
    let mut tsfn = ptr::null_mut();
    unsafe {
        let name = string(call.env, b"extractLayer")?;
        check(
            napi_create_threadsafe_function(
                call.env,
                ptr::null_mut(),
                ptr::null_mut(),
                name,
                0,
                1,
                ptr::null_mut(),
                None,
                ptr::null_mut(),
                Some(deliver),
                &mut tsfn,
            ),
            "napi_create_threadsafe_function",
        )?;
    }
    Ok(tsfn)
}

/// From the extraction thread to the JavaScript thread (`deliver`).
fn send(tsfn: &Tsfn, id: u32, notice: Notice<Deferred>) {
    let data = Box::into_raw(Box::new((id, notice)));
    unsafe {
        // Fails only while the environment shuts down: nobody waits for the result then.
        if napi_call_threadsafe_function(tsfn.0, data.cast(), NAPI_TSFN_NONBLOCKING) != NAPI_OK {
            drop(Box::from_raw(data));
        }
    }
}

unsafe extern "C" fn deliver(
    env: napi_env,
    _callback: napi_value,
    _context: *mut c_void,
    data: *mut c_void,
) {
    let (id, notice) = *Box::from_raw(data as *mut (u32, Notice<Deferred>));
    // A null env: the environment is shutting down and the promise can no longer settle.
    if env.is_null() {
        return;
    }
    // A failure to settle leaves nothing better to do (it means the heap is exhausted).
    let _ = panic::catch_unwind(AssertUnwindSafe(|| match notice {
        Notice::Room(waiter) => settle(env, waiter, Settle::Resolve),
        Notice::Done(waiter, how) => {
            sessions().remove(&id);
            settle(env, waiter, how)
        }
    }));
}

fn promise(env: napi_env) -> Result<(napi_deferred, napi_value), Error> {
    let (mut deferred, mut promise) = (ptr::null_mut(), ptr::null_mut());
    unsafe {
        check(
            napi_create_promise(env, &mut deferred, &mut promise),
            "napi_create_promise",
        )?
    };
    Ok((deferred, promise))
}

fn settle(env: napi_env, waiter: Deferred, how: Settle) -> Result<(), Error> {
    unsafe {
        match how {
            Settle::Resolve => {
                let mut undefined = ptr::null_mut();
                check(
                    napi_get_undefined(env, &mut undefined),
                    "napi_get_undefined",
                )?;
                check(
                    napi_resolve_deferred(env, waiter.0, undefined),
                    "napi_resolve_deferred",
                )
            }
            Settle::Reject(err) => {
                let error = error_value(env, &err)?;
                check(
                    napi_reject_deferred(env, waiter.0, error),
                    "napi_reject_deferred",
                )
            }
        }
    }
}

fn reject_state(env: napi_env, waiter: Deferred, message: &str) -> Result<(), Error> {
    unsafe {
        let error = new_error(env, "ERR_INVALID_STATE", message)?;
        check(
            napi_reject_deferred(env, waiter.0, error),
            "napi_reject_deferred",
        )
    }
}

unsafe fn new_error(env: napi_env, code: &str, message: &str) -> Result<napi_value, Error> {
    let mut error = ptr::null_mut();
    check(
        napi_create_error(
            env,
            string(env, code.as_bytes())?,
            string(env, message.as_bytes())?,
            &mut error,
        ),
        "napi_create_error",
    )?;
    Ok(error)
}

unsafe fn set_string(
    env: napi_env,
    object: napi_value,
    name: &std::ffi::CStr,
    value: &str,
) -> Result<(), Error> {
    check(
        napi_set_named_property(env, object, name.as_ptr(), string(env, value.as_bytes())?),
        "napi_set_named_property",
    )
}

/// The error JavaScript sees: `code` INVALID_LAYER or LAYER_LIMIT (with `limit`), which
/// native-extract.ts rethrows as the BerthError of that code; or a failed system call, shaped
/// like Node's fs errors (code, errno, syscall, path).
unsafe fn error_value(env: napi_env, err: &ExtractError) -> Result<napi_value, Error> {
    Ok(match err {
        ExtractError::Layer(message) => new_error(env, "INVALID_LAYER", message)?,
        ExtractError::Limit { limit, message } => {
            let error = new_error(env, "LAYER_LIMIT", message)?;
            set_string(env, error, c"limit", limit)?;
            error
        }
        ExtractError::Sys(sys) => sys_error_value(env, sys, &sys.to_string(), None)?,
        ExtractError::Aborted => new_error(
            env,
            "ERR_BERTH_ABORTED",
            "the layer's extraction was aborted",
        )?,
        ExtractError::Internal(message) => new_error(env, "ERR_BERTH_INTERNAL", message)?,
    })
}
