//! Native objects JavaScript names by number (an extraction in progress, a zstd decoder): a
//! table from id to object, shared by the JavaScript thread and the objects' own threads.

use std::collections::HashMap;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::error::Error;
use crate::js::check;
use crate::napi::{napi_create_double, napi_env, napi_value};

pub struct Handles<T> {
    table: OnceLock<Mutex<HashMap<u32, T>>>,
    next: AtomicU32,
}

impl<T> Handles<T> {
    pub const fn new() -> Self {
        Handles {
            table: OnceLock::new(),
            next: AtomicU32::new(1),
        }
    }

    /// The table; a panic elsewhere while it was held does not make it unusable.
    pub fn lock(&self) -> MutexGuard<'_, HashMap<u32, T>> {
        self.table
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new id, for an object that needs its id before it is added.
    pub fn next_id(&self) -> u32 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds `value` under a new id.
    pub fn insert(&self, value: T) -> u32 {
        let id = self.next_id();
        self.lock().insert(id, value);
        id
    }
}

/// An id as JavaScript gets it: a number.
pub fn id_value(env: napi_env, id: u32) -> Result<napi_value, Error> {
    let mut value = ptr::null_mut();
    unsafe {
        check(
            napi_create_double(env, id.into(), &mut value),
            "napi_create_double",
        )?
    };
    Ok(value)
}
