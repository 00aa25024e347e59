//! The grader's own lesson-08 frames: written from `lessons/08_protocol.md#the-contract`, never
//! from the lesson's `framing.rs`, so that a bug in the program being graded is not shared by its
//! judge. Small on purpose: what the checks send and what they accept, nothing for narration.
//!
//! The contract, as this module reads it: 2 bytes, the header length *h* (unsigned, big-endian,
//! at most 8,192); *h* bytes of UTF-8 JSON, an object with at least `byteorder` (`big` or
//! `little`), `content-type`, `content-encoding` (strings) and `content-length` (an integer from
//! 0 to 1,048,576), other fields ignored; then exactly `content-length` bytes of content.
//!
//! The reader is strict where the contract is: a response that breaks it is a failure of the
//! program, said in the contract's words.

use std::fmt;
use std::io::{self, Read};

use serde_json::Value;

/// The longest header the contract allows, in bytes.
pub const MAX_HEADER: usize = 8192;
/// The longest content the contract allows, in bytes (1 MiB).
pub const MAX_CONTENT: u64 = 1_048_576;

/// `content-type` of JSON content.
pub const JSON: &str = "application/json";
/// `content-type` of binary content.
pub const BINARY: &str = "application/octet-stream";
/// `content-encoding` of JSON content.
pub const UTF8: &str = "utf-8";
/// `content-encoding` of binary content.
pub const RAW: &str = "binary";

/// One frame as the checks see it: the header's four fields and the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// `big` or `little`.
    pub byteorder: String,
    /// `content-type`.
    pub content_type: String,
    /// `content-encoding`.
    pub content_encoding: String,
    /// The content; `content-length` is its length.
    pub content: Vec<u8>,
}

impl Frame {
    /// JSON content: `value`, compact, UTF-8.
    pub fn json(value: &Value) -> Frame {
        Frame::new(JSON, UTF8, value.to_string().into_bytes())
    }

    /// Binary content: `bytes` as they are.
    pub fn binary(bytes: Vec<u8>) -> Frame {
        Frame::new(BINARY, RAW, bytes)
    }

    fn new(content_type: &str, content_encoding: &str, content: Vec<u8>) -> Frame {
        // The byte order of this machine, as a sender is told to say (the checks send no
        // numbers inside content, so it only has to be one of the two words).
        let byteorder = if cfg!(target_endian = "big") {
            "big"
        } else {
            "little"
        };
        Frame {
            byteorder: byteorder.into(),
            content_type: content_type.into(),
            content_encoding: content_encoding.into(),
            content,
        }
    }
}

/// The header of a frame, as JSON text, fields in the order the contract lists them.
pub fn header_json(byteorder: &str, content_type: &str, encoding: &str, length: u64) -> String {
    // `Value::from(&str).to_string()` is a JSON string literal, quotes and escapes included.
    format!(
        "{{\"byteorder\":{},\"content-type\":{},\"content-encoding\":{},\"content-length\":{length}}}",
        Value::from(byteorder),
        Value::from(content_type),
        Value::from(encoding),
    )
}

/// A frame from its parts, as given: for the frames a correct sender never makes too (a
/// header that is not JSON, a `content-length` over the limit with no content after it).
pub fn raw_frame(header: &str, content: &[u8]) -> Vec<u8> {
    let length = u16::try_from(header.len()).unwrap_or(u16::MAX);
    let mut bytes = Vec::with_capacity(2 + header.len() + content.len());
    bytes.push((length >> 8) as u8);
    bytes.push((length & 0xff) as u8);
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(content);
    bytes
}

/// The bytes of `frame` on the wire.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let header = header_json(
        &frame.byteorder,
        &frame.content_type,
        &frame.content_encoding,
        frame.content.len() as u64,
    );
    raw_frame(&header, &frame.content)
}

/// Why the bytes from the program are not a frame.
#[derive(Debug)]
pub enum FrameError {
    /// The socket failed: a timeout, a reset.
    Io(io::Error),
    /// The stream ended inside a frame.
    Truncated {
        /// `header length`, `header` or `content`.
        part: &'static str,
        /// How many bytes of it came.
        got: usize,
        /// How many the frame needed.
        want: usize,
    },
    /// The bytes break the contract; the words say how.
    Broken(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Io(e) => write!(f, "{e}"),
            FrameError::Truncated { part, got, want } => write!(
                f,
                "the stream ended inside a frame: {got} of the {want} bytes of its {part}"
            ),
            FrameError::Broken(why) => write!(f, "not a frame of the contract: {why}"),
        }
    }
}

/// Read up to `want` bytes: fewer only if the stream ends first.
fn take(reader: &mut impl Read, want: usize) -> Result<Vec<u8>, FrameError> {
    let mut bytes = Vec::new();
    reader
        .take(want as u64)
        .read_to_end(&mut bytes)
        .map_err(FrameError::Io)?;
    Ok(bytes)
}

/// Read exactly `want` bytes of `part`; the stream ending first is a truncated frame.
fn exactly(reader: &mut impl Read, want: usize, part: &'static str) -> Result<Vec<u8>, FrameError> {
    let bytes = take(reader, want)?;
    if bytes.len() < want {
        return Err(FrameError::Truncated {
            part,
            got: bytes.len(),
            want,
        });
    }
    Ok(bytes)
}

/// Read one frame. `Ok(None)`: the stream ended cleanly, before the first byte of a frame.
pub fn read_frame(reader: &mut impl Read) -> Result<Option<Frame>, FrameError> {
    let prefix = match take(reader, 2)?.as_slice() {
        [] => return Ok(None),
        [_] => {
            return Err(FrameError::Truncated {
                part: "header length",
                got: 1,
                want: 2,
            });
        }
        [hi, lo, ..] => [*hi, *lo],
    };
    let h = usize::from(prefix[0]) << 8 | usize::from(prefix[1]);
    if h > MAX_HEADER {
        return Err(FrameError::Broken(format!(
            "header length {h} (bytes {:02x} {:02x}) is over {MAX_HEADER}",
            prefix[0], prefix[1]
        )));
    }
    let header = exactly(reader, h, "header")?;
    let header: Value = serde_json::from_slice(&header)
        .map_err(|e| FrameError::Broken(format!("the header is not UTF-8 JSON: {e}")))?;
    // The header as JSON text (escaped, so nothing raw reaches a report), when it is short.
    let shown = Some(header.to_string()).filter(|text| text.len() <= 200);
    let shown = shown.unwrap_or_else(|| format!("of {h} bytes"));
    let broken = |why: String| FrameError::Broken(format!("header {shown}: {why}"));
    let Some(fields) = header.as_object() else {
        return Err(broken("not a JSON object".into()));
    };
    let text = |name: &str| match fields.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(broken(format!("`{name}` is {other}, not a string"))),
        None => Err(broken(format!("no `{name}`"))),
    };
    let byteorder = text("byteorder")?;
    if byteorder != "big" && byteorder != "little" {
        return Err(broken(format!(
            "`byteorder` is {byteorder:?}, not big or little"
        )));
    }
    let content_type = text("content-type")?;
    let content_encoding = text("content-encoding")?;
    let length = match fields.get("content-length") {
        Some(n) => n
            .as_u64()
            .ok_or_else(|| broken(format!("`content-length` is {n}, not a whole number")))?,
        None => return Err(broken("no `content-length`".into())),
    };
    if length > MAX_CONTENT {
        return Err(broken(format!(
            "`content-length` {length} is over {MAX_CONTENT}"
        )));
    }
    let content = exactly(reader, length as usize, "content")?;
    Ok(Some(Frame {
        byteorder,
        content_type,
        content_encoding,
        content,
    }))
}

/// CRC-32 as zlib computes it (reflected polynomial 0xEDB88320, initial and final value all
/// ones), through a table made at compile time: the checksum the client prints.
pub fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let crc = data.iter().fold(u32::MAX, |crc, &b| {
        TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    });
    crc ^ u32::MAX
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A frame typed out by hand from the contract: `00 XX` then the header, then the content.
    fn by_hand(header: &str, content: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0x00, header.len() as u8];
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(content);
        bytes
    }

    fn little(content_type: &str, encoding: &str, content: &[u8]) -> Frame {
        Frame {
            byteorder: "little".into(),
            content_type: content_type.into(),
            content_encoding: encoding.into(),
            content: content.to_vec(),
        }
    }

    #[test]
    fn encodes_the_bytes_the_contract_describes() {
        // 111 bytes of header = 0x006f, big-endian: 00 6f.
        let header = r#"{"byteorder":"little","content-type":"application/octet-stream","content-encoding":"binary","content-length":2}"#;
        assert_eq!(header.len(), 111);
        let mut want = vec![0x00, 0x6f];
        want.extend_from_slice(header.as_bytes());
        want.extend_from_slice(b"hi");
        assert_eq!(encode(&little(BINARY, RAW, b"hi")), want);

        // The lesson page's captured request: `00 67`, 103 bytes of header, 36 of content.
        let content = br#"{"action":"search","value":"socket"}"#;
        let header = r#"{"byteorder":"little","content-type":"application/json","content-encoding":"utf-8","content-length":36}"#;
        let bytes = encode(&little(JSON, UTF8, content));
        assert_eq!(&bytes[..2], &[0x00, 0x67]);
        assert_eq!(&bytes[2..105], header.as_bytes());
        assert_eq!(&bytes[105..], content);
        assert_eq!(bytes.len(), 2 + 103 + 36);
    }

    #[test]
    fn decodes_frames_typed_by_hand() {
        // Fields in any order, an unknown field ignored, big-endian byteorder.
        let header = r#"{"content-length":3,"x-extra":[1,2],"content-encoding":"binary","content-type":"application/octet-stream","byteorder":"big"}"#;
        let bytes = by_hand(header, b"abc");
        let frame = read_frame(&mut &bytes[..]).unwrap().unwrap();
        assert_eq!(
            frame,
            Frame {
                byteorder: "big".into(),
                content_type: BINARY.into(),
                content_encoding: RAW.into(),
                content: b"abc".to_vec(),
            }
        );
        // Empty content, then a clean end.
        let header = r#"{"byteorder":"little","content-type":"application/json","content-encoding":"utf-8","content-length":0}"#;
        let bytes = by_hand(header, b"");
        let mut reader = &bytes[..];
        assert_eq!(read_frame(&mut reader).unwrap().unwrap().content, b"");
        assert!(read_frame(&mut reader).unwrap().is_none());
    }

    #[test]
    fn round_trips_one_frame_after_another() {
        let frames = [
            Frame::json(&json!({"action": "search", "value": "🦀"})),
            Frame::binary((0..=255u8).collect()),
            Frame::binary(Vec::new()),
            Frame::binary(vec![7; MAX_CONTENT as usize]),
            Frame::json(&json!({"error": "a \"quoted\"\nline"})),
        ];
        let stream: Vec<u8> = frames.iter().flat_map(encode).collect();
        // All at once, and one byte per read.
        let mut reader = &stream[..];
        for frame in &frames {
            assert_eq!(read_frame(&mut reader).unwrap().as_ref(), Some(frame));
        }
        assert!(read_frame(&mut reader).unwrap().is_none());
        let mut slow = OneByte(&stream[..]);
        for frame in &frames {
            assert_eq!(read_frame(&mut slow).unwrap().as_ref(), Some(frame));
        }
        assert!(read_frame(&mut slow).unwrap().is_none());
    }

    struct OneByte<'a>(&'a [u8]);
    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn every_cut_inside_a_frame_is_truncated() {
        let bytes = encode(&Frame::binary(b"0123456789".to_vec()));
        let h = 2 + usize::from(bytes[1]);
        for cut in 1..bytes.len() {
            let err = read_frame(&mut &bytes[..cut]).unwrap_err();
            let part = match cut {
                1 => "header length",
                c if c < h => "header",
                _ => "content",
            };
            assert!(
                matches!(err, FrameError::Truncated { part: p, .. } if p == part),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn refuses_what_the_contract_forbids() {
        let refused = |bytes: &[u8], words: &str| {
            let err = read_frame(&mut &bytes[..]).unwrap_err().to_string();
            assert!(err.contains(words), "{err:?} does not say {words:?}");
        };
        // 0x2001 = 8193, and the length little-endian (67 00 = 26368 for 103).
        refused(&[0x20, 0x01], "header length 8193");
        refused(&[0x67, 0x00], "header length 26368");
        refused(&by_hand("{not json", b""), "not UTF-8 JSON");
        refused(&by_hand("[1,2]", b""), "not a JSON object");
        let no_length = r#"{"byteorder":"big","content-type":"a","content-encoding":"b"}"#;
        refused(&by_hand(no_length, b""), "no `content-length`");
        let middle = r#"{"byteorder":"middle","content-type":"a","content-encoding":"b","content-length":0}"#;
        refused(&by_hand(middle, b""), "not big or little");
        let number =
            r#"{"byteorder":"big","content-type":7,"content-encoding":"b","content-length":0}"#;
        refused(&by_hand(number, b""), "`content-type` is 7");
        let negative =
            r#"{"byteorder":"big","content-type":"a","content-encoding":"b","content-length":-1}"#;
        refused(&by_hand(negative, b""), "not a whole number");
        // Over the limit is refused from the header alone: no content is waited for.
        refused(
            &raw_frame(&header_json("big", BINARY, RAW, MAX_CONTENT + 1), b""),
            "1048577 is over 1048576",
        );
        // At the limit, a claim with 3 bytes behind it is a truncated frame, not a wait.
        let err =
            read_frame(&mut &raw_frame(&header_json("big", BINARY, RAW, MAX_CONTENT), b"abc")[..])
                .unwrap_err();
        assert!(matches!(
            err,
            FrameError::Truncated {
                part: "content",
                got: 3,
                want: 1_048_576
            }
        ));
    }

    #[test]
    fn crc32_is_zlibs() {
        // The CRC-32 check value, and python3 -c 'import zlib; print(hex(zlib.crc32(b"hello")))'.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"hello"), 0x3610_a686);
        assert_eq!(crc32(b""), 0);
    }
}
