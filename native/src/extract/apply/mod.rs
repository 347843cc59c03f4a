//! Writing a layer into a snapshot's directory in overlayfs' upper format: the writer
//! (`writer`), where paths lead inside the layer (`root_path`), descriptors of its directories
//! (`dir_cache`), the confined system calls (`sys`, `remove`), what each inode gets (`meta`),
//! and what the layers below show (`lower`).

pub mod dir_cache;
pub mod lower;
pub mod meta;
pub mod remove;
pub mod root_path;
pub mod sys;
pub mod writer;
