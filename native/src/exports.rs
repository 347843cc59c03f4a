//! The functions the addon exports to JavaScript, typed in
//! backends/linux-native/native-addon.ts. Each only converts: arguments in, a concern module's
//! result out.

use crate::inode::{self, Timestamp};
use crate::js::{Call, Error, Export};
use crate::napi::napi_value;
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
