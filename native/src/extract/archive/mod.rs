//! Reading a layer's tar stream: the chunks JavaScript hands over (`input`), header fields
//! (`header`), PAX records (`pax`), text as JavaScript decodes it (`text`), the entries
//! LayerReader makes of them (`entry`), and the streaming reader with the layer limits
//! (`reader`).

pub mod entry;
pub mod header;
pub mod input;
pub mod pax;
pub mod reader;
pub mod text;
