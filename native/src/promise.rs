//! Promises settled from a Rust thread: the blocking work (waitpid) runs on its own thread and
//! hands its result to the JavaScript thread through a threadsafe function, so the event loop
//! never waits. The threadsafe function keeps the event loop alive until the work is done, as a
//! pending child process does in Node.

use std::ffi::c_void;
use std::ptr;
use std::thread;

use crate::error::Error;
use crate::js::{check, string, Call};
use crate::napi::*;

/// Converts the work's result to the value the promise resolves with.
pub type ToJs<T> = fn(napi_env, T) -> Result<napi_value, Error>;

struct Context<T> {
    deferred: napi_deferred,
    to_js: ToJs<T>,
}

/// Runs `work` on a new thread and returns a promise of `to_js(work())`.
pub fn on_thread<T: Send + 'static>(
    call: &Call,
    work: impl FnOnce() -> T + Send + 'static,
    to_js: ToJs<T>,
) -> Result<napi_value, Error> {
    let env = call.env;
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    unsafe {
        check(
            napi_create_promise(env, &mut deferred, &mut promise),
            "napi_create_promise",
        )?;
    }
    let context = Box::into_raw(Box::new(Context { deferred, to_js }));
    let mut tsfn = ptr::null_mut();
    let created = unsafe {
        let name = string(env, call.function_name().as_bytes())?;
        napi_create_threadsafe_function(
            env,
            ptr::null_mut(),
            ptr::null_mut(),
            name,
            0,
            1,
            context.cast(),
            Some(finalize::<T>),
            context.cast(),
            Some(call_js::<T>),
            &mut tsfn,
        )
    };
    if let Err(err) = check(created, "napi_create_threadsafe_function") {
        drop(unsafe { Box::from_raw(context) });
        return Err(err);
    }
    let raw = tsfn;
    let tsfn = SendPtr(tsfn);
    let started = thread::Builder::new()
        .name(format!("berth-{}", call.function_name()))
        .spawn(move || {
            let tsfn = &tsfn;
            let result = Box::into_raw(Box::new(work()));
            unsafe {
                // Fails only while the environment shuts down: nobody waits for the result then.
                if napi_call_threadsafe_function(tsfn.0, result.cast(), NAPI_TSFN_NONBLOCKING)
                    != NAPI_OK
                {
                    drop(Box::from_raw(result));
                }
                napi_release_threadsafe_function(tsfn.0, NAPI_TSFN_RELEASE);
            }
        });
    if started.is_err() {
        unsafe { napi_release_threadsafe_function(raw, NAPI_TSFN_RELEASE) };
        return Err(Error::Arg {
            range: false,
            code: c"ERR_BERTH_THREAD".into(),
            message: format!("{}: could not start a thread", call.function_name()),
        });
    }
    Ok(promise)
}

struct SendPtr(napi_threadsafe_function);
// The threadsafe function is made to be called from other threads.
unsafe impl Send for SendPtr {}

unsafe extern "C" fn call_js<T>(
    env: napi_env,
    _callback: napi_value,
    context: *mut c_void,
    data: *mut c_void,
) {
    let result = *Box::from_raw(data as *mut T);
    // A null env: the environment is shutting down and the promise can no longer settle.
    if env.is_null() {
        return;
    }
    let context = &*(context as *const Context<T>);
    match (context.to_js)(env, result) {
        Ok(value) => {
            napi_resolve_deferred(env, context.deferred, value);
        }
        Err(_) => {
            let mut error = ptr::null_mut();
            if let Ok(message) = string(env, b"berth's native addon: could not convert a result") {
                napi_create_error(env, ptr::null_mut(), message, &mut error);
                napi_reject_deferred(env, context.deferred, error);
            }
        }
    }
}

unsafe extern "C" fn finalize<T>(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    drop(Box::from_raw(data as *mut Context<T>));
}
