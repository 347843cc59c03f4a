//! Reading the properties of a JavaScript object argument (a spec) with the same checks and
//! error messages as plain arguments (`spawn: "spec.root.path" must be a string, got number`),
//! and building plain result objects.

use std::ffi::{CStr, CString};
use std::ptr;

use crate::error::Error;
use crate::js::{check, type_name, utf8_cstring, Call};
use crate::napi::*;

/// An object read from an argument; `path` names it in error messages (`spec.mounts[2]`).
pub struct Object<'c> {
    call: &'c Call,
    value: napi_value,
    path: String,
}

impl Call {
    pub fn object(&self, index: usize) -> Result<Object<'_>, Error> {
        let object = Object {
            call: self,
            value: self.arg(index),
            path: self.param(index).to_owned(),
        };
        object.expect(object.value, NAPI_OBJECT, "an object", &object.path)?;
        Ok(object)
    }

    /// A new plain object to fill with `Object::set_*`.
    pub fn new_object(&self) -> Result<Object<'_>, Error> {
        let mut value = ptr::null_mut();
        unsafe {
            check(
                napi_create_object(self.env, &mut value),
                "napi_create_object",
            )?
        };
        Ok(Object {
            call: self,
            value,
            path: String::new(),
        })
    }
}

impl<'c> Object<'c> {
    pub fn value(&self) -> napi_value {
        self.value
    }

    fn env(&self) -> napi_env {
        self.call.env
    }

    fn get(&self, name: &CStr) -> Result<napi_value, Error> {
        let mut value = ptr::null_mut();
        unsafe {
            check(
                napi_get_named_property(self.env(), self.value, name.as_ptr(), &mut value),
                "napi_get_named_property",
            )?
        };
        Ok(value)
    }

    fn kind(&self, value: napi_value) -> Result<napi_valuetype, Error> {
        let mut kind = NAPI_UNDEFINED;
        unsafe { check(napi_typeof(self.env(), value, &mut kind), "napi_typeof")? };
        Ok(kind)
    }

    fn member(&self, name: &CStr) -> String {
        format!("{}.{}", self.path, name.to_string_lossy())
    }

    fn expect(
        &self,
        value: napi_value,
        expected: napi_valuetype,
        what: &str,
        path: &str,
    ) -> Result<(), Error> {
        let kind = self.kind(value)?;
        if kind != expected {
            return Err(self.invalid(path, format!("must be {what}, got {}", type_name(kind))));
        }
        Ok(())
    }

    /// A TypeError with code ERR_INVALID_ARG_TYPE about the property at `path`.
    pub fn invalid(&self, path: &str, problem: String) -> Error {
        Error::Arg {
            range: false,
            code: c"ERR_INVALID_ARG_TYPE".into(),
            message: format!("{}: \"{path}\" {problem}", self.call.function_name()),
        }
    }

    /// A problem with the value of property `name`, for checks beyond its type.
    pub fn invalid_value(&self, name: &CStr, problem: String) -> Error {
        Error::Arg {
            range: false,
            code: c"ERR_INVALID_ARG_VALUE".into(),
            message: format!(
                "{}: \"{}\" {problem}",
                self.call.function_name(),
                self.member(name)
            ),
        }
    }

    fn is_absent(&self, value: napi_value) -> Result<bool, Error> {
        Ok(matches!(self.kind(value)?, NAPI_UNDEFINED | NAPI_NULL))
    }

    fn to_cstring(&self, value: napi_value, path: &str) -> Result<CString, Error> {
        self.expect(value, NAPI_STRING, "a string", path)?;
        utf8_cstring(self.env(), value, || {
            format!(
                "{}: \"{path}\" must be a string without null bytes",
                self.call.function_name()
            )
        })
    }

    pub fn string(&self, name: &CStr) -> Result<CString, Error> {
        self.to_cstring(self.get(name)?, &self.member(name))
    }

    pub fn opt_string(&self, name: &CStr) -> Result<Option<CString>, Error> {
        let value = self.get(name)?;
        if self.is_absent(value)? {
            return Ok(None);
        }
        self.to_cstring(value, &self.member(name)).map(Some)
    }

    /// An array property's elements; an absent property is an empty array.
    fn elements(&self, name: &CStr) -> Result<Vec<napi_value>, Error> {
        let value = self.get(name)?;
        if self.is_absent(value)? {
            return Ok(Vec::new());
        }
        let mut is_array = false;
        unsafe {
            check(
                napi_is_array(self.env(), value, &mut is_array),
                "napi_is_array",
            )?
        };
        if !is_array {
            let got = type_name(self.kind(value)?);
            return Err(self.invalid(&self.member(name), format!("must be an array, got {got}")));
        }
        let mut len = 0;
        unsafe {
            check(
                napi_get_array_length(self.env(), value, &mut len),
                "napi_get_array_length",
            )?
        };
        (0..len)
            .map(|index| {
                let mut element = ptr::null_mut();
                unsafe {
                    check(
                        napi_get_element(self.env(), value, index, &mut element),
                        "napi_get_element",
                    )?
                };
                Ok(element)
            })
            .collect()
    }

    pub fn strings(&self, name: &CStr) -> Result<Vec<CString>, Error> {
        let path = self.member(name);
        self.elements(name)?
            .into_iter()
            .enumerate()
            .map(|(i, value)| self.to_cstring(value, &format!("{path}[{i}]")))
            .collect()
    }

    pub fn objects(&self, name: &CStr) -> Result<Vec<Object<'c>>, Error> {
        let path = self.member(name);
        self.elements(name)?
            .into_iter()
            .enumerate()
            .map(|(i, value)| {
                let path = format!("{path}[{i}]");
                self.expect(value, NAPI_OBJECT, "an object", &path)?;
                Ok(Object {
                    call: self.call,
                    value,
                    path,
                })
            })
            .collect()
    }

    pub fn opt_object(&self, name: &CStr) -> Result<Option<Object<'c>>, Error> {
        let value = self.get(name)?;
        if self.is_absent(value)? {
            return Ok(None);
        }
        let path = self.member(name);
        self.expect(value, NAPI_OBJECT, "an object", &path)?;
        Ok(Some(Object {
            call: self.call,
            value,
            path,
        }))
    }

    pub fn bool(&self, name: &CStr) -> Result<bool, Error> {
        let value = self.get(name)?;
        if self.is_absent(value)? {
            return Ok(false);
        }
        self.expect(value, NAPI_BOOLEAN, "a boolean", &self.member(name))?;
        let mut result = false;
        unsafe {
            check(
                napi_get_value_bool(self.env(), value, &mut result),
                "napi_get_value_bool",
            )?
        };
        Ok(result)
    }

    fn number(&self, value: napi_value, path: &str) -> Result<f64, Error> {
        self.expect(value, NAPI_NUMBER, "a number", path)?;
        let mut number = 0.0;
        unsafe {
            check(
                napi_get_value_double(self.env(), value, &mut number),
                "napi_get_value_double",
            )?
        };
        Ok(number)
    }

    /// An integer in 0..=u32::MAX; `default` when absent.
    pub fn u32_or(&self, name: &CStr, default: u32) -> Result<u32, Error> {
        let value = self.get(name)?;
        if self.is_absent(value)? {
            return Ok(default);
        }
        let path = self.member(name);
        let number = self.number(value, &path)?;
        u32_value(number).ok_or_else(|| self.out_of_range(&path, number))
    }

    /// An integer in 0..=u16::MAX; `default` when absent.
    pub fn u16_or(&self, name: &CStr, default: u16) -> Result<u16, Error> {
        let value = self.u32_or(name, default.into())?;
        u16::try_from(value).map_err(|_| self.out_of_range(&self.member(name), value.into()))
    }

    pub fn u32s(&self, name: &CStr) -> Result<Vec<u32>, Error> {
        let path = self.member(name);
        self.elements(name)?
            .into_iter()
            .enumerate()
            .map(|(i, value)| {
                let path = format!("{path}[{i}]");
                let number = self.number(value, &path)?;
                u32_value(number).ok_or_else(|| self.out_of_range(&path, number))
            })
            .collect()
    }

    /// A non-negative integer, or Infinity as `u64::MAX` (rlimits' "unlimited").
    pub fn limit(&self, name: &CStr) -> Result<u64, Error> {
        let path = self.member(name);
        let number = self.number(self.get(name)?, &path)?;
        if number == f64::INFINITY {
            return Ok(u64::MAX);
        }
        if number.fract() != 0.0 || !(0.0..=9007199254740991.0).contains(&number) {
            return Err(self.out_of_range(&path, number));
        }
        Ok(number as u64)
    }

    fn out_of_range(&self, path: &str, number: f64) -> Error {
        Error::Arg {
            range: true,
            code: c"ERR_OUT_OF_RANGE".into(),
            message: format!(
                "{}: \"{path}\" is out of range, got {number}",
                self.call.function_name()
            ),
        }
    }

    pub fn set_number(&self, name: &CStr, number: f64) -> Result<(), Error> {
        let mut value = ptr::null_mut();
        unsafe {
            check(
                napi_create_double(self.env(), number, &mut value),
                "napi_create_double",
            )?;
            check(
                napi_set_named_property(self.env(), self.value, name.as_ptr(), value),
                "napi_set_named_property",
            )
        }
    }
}

fn u32_value(number: f64) -> Option<u32> {
    (number.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&number)).then_some(number as u32)
}
