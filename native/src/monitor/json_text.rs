//! Output bytes as the text of a JSON string, exactly as JsonFileLogWriter makes it: decoded
//! as TextDecoder decodes a stream (WHATWG Encoding's UTF-8 decoder: each maximal invalid
//! subpart becomes one U+FFFD, a BOM at the stream's start is dropped, an incomplete character
//! waits for the next bytes), then escaped as JSON.stringify escapes a string.

pub struct TextDecoder {
    code_point: u32,
    needed: u8,
    seen: u8,
    lower: u8,
    upper: u8,
    /// Whether a code point has been decoded: only the stream's first may be a BOM to drop.
    started: bool,
}

const REPLACEMENT: u32 = 0xFFFD;
const BOM: u32 = 0xFEFF;

impl TextDecoder {
    pub fn new() -> TextDecoder {
        TextDecoder {
            code_point: 0,
            needed: 0,
            seen: 0,
            lower: 0x80,
            upper: 0xBF,
            started: false,
        }
    }

    /// Appends the JSON text of `bytes` to `out`, keeping an incomplete last character.
    pub fn decode(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        for byte in bytes {
            self.byte(*byte, out);
        }
    }

    /// The stream has ended: an incomplete character is one U+FFFD.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.needed != 0 {
            self.reset();
            self.emit(REPLACEMENT, out);
        }
    }

    /// The UTF-8 decoder's handler (encoding.spec.whatwg.org, "UTF-8 decoder").
    fn byte(&mut self, byte: u8, out: &mut Vec<u8>) {
        if self.needed == 0 {
            match byte {
                0x00..=0x7F => self.emit(byte.into(), out),
                0xC2..=0xDF => self.begin(1, byte & 0x1F),
                0xE0..=0xEF => {
                    match byte {
                        0xE0 => self.lower = 0xA0,
                        0xED => self.upper = 0x9F,
                        _ => {}
                    }
                    self.begin(2, byte & 0x0F);
                }
                0xF0..=0xF4 => {
                    match byte {
                        0xF0 => self.lower = 0x90,
                        0xF4 => self.upper = 0x8F,
                        _ => {}
                    }
                    self.begin(3, byte & 0x07);
                }
                _ => self.emit(REPLACEMENT, out),
            }
            return;
        }
        if !(self.lower..=self.upper).contains(&byte) {
            // The sequence so far is one error; the byte starts afresh.
            self.reset();
            self.emit(REPLACEMENT, out);
            self.byte(byte, out);
            return;
        }
        self.lower = 0x80;
        self.upper = 0xBF;
        self.code_point = (self.code_point << 6) | u32::from(byte & 0x3F);
        self.seen += 1;
        if self.seen == self.needed {
            let code_point = self.code_point;
            self.reset();
            self.emit(code_point, out);
        }
    }

    fn begin(&mut self, needed: u8, bits: u8) {
        self.needed = needed;
        self.code_point = bits.into();
    }

    fn reset(&mut self) {
        self.code_point = 0;
        self.needed = 0;
        self.seen = 0;
        self.lower = 0x80;
        self.upper = 0xBF;
    }

    fn emit(&mut self, code_point: u32, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            if code_point == BOM {
                return;
            }
        }
        escape(code_point, out);
    }
}

/// JSON.stringify's escaping of one code point (never a surrogate: the decoder makes none).
fn escape(code_point: u32, out: &mut Vec<u8>) {
    let escaped: &[u8] = match code_point {
        0x22 => b"\\\"",
        0x5C => b"\\\\",
        0x08 => b"\\b",
        0x0C => b"\\f",
        0x0A => b"\\n",
        0x0D => b"\\r",
        0x09 => b"\\t",
        0x00..=0x1F => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let low = code_point as usize;
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[low >> 4], HEX[low & 0xF]]);
            return;
        }
        _ => {
            let mut utf8 = [0u8; 4];
            let c = char::from_u32(code_point).unwrap_or(char::REPLACEMENT_CHARACTER);
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            return;
        }
    };
    out.extend_from_slice(escaped);
}
