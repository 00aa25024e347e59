//! Framing: lesson 08's messages on a byte stream, and back.
//!
//! TCP (and a Unix stream socket) delivers bytes, never messages: lesson 02 showed that one
//! `recv` may return half a message or two. So every message carries its own length, in three
//! parts:
//!
//! ```text
//! ┌──────────────┬────────────────────────────────┬──────────────────────────┐
//! │ header length│ header: UTF-8 JSON              │ content                  │
//! │ 2 bytes, u16 │ byteorder, content-type,        │ exactly content-length   │
//! │ big-endian   │ content-encoding, content-length│ bytes                    │
//! └──────────────┴────────────────────────────────┴──────────────────────────┘
//! ```
//!
//! The reader reads *exactly* 2 bytes, then exactly the header's length, then exactly
//! `content-length` bytes — however many `recv` calls each takes. Every length the peer sends is
//! a claim, checked against a limit before anything is read or allocated for it.
//!
//! `lessons/08_protocol.md` draws the frame byte by byte and explains each field.

use std::fmt;
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// The header length is a big-endian `u16`: 2 bytes, network byte order.
pub const LENGTH_BYTES: usize = 2;

/// The longest header accepted, in bytes. A `u16` could say 65,535; the limit is lower so that a
/// header is small (like HTTP servers' usual 8 KiB for request headers) and the check is real.
pub const MAX_HEADER: usize = 8 * 1024;

/// The longest content accepted, in bytes (1 MiB): what `echo` can send back.
pub const MAX_CONTENT: u64 = 1 << 20;

/// `content-type` of a JSON request or response.
pub const JSON: &str = "application/json";
/// `content-type` of binary content.
pub const BINARY: &str = "application/octet-stream";
/// `content-encoding` of JSON content: text, encoded as UTF-8.
pub const UTF8: &str = "utf-8";
/// `content-encoding` of binary content: the bytes as they are.
pub const RAW: &str = "binary";

/// The byte order of numbers inside binary content, as the sender's machine stores them.
/// (The 2-byte length itself is always big-endian: the protocol fixes that one.)
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ByteOrder {
    /// Most significant byte first (network byte order).
    Big,
    /// Least significant byte first (x86, most ARM machines).
    Little,
}

impl ByteOrder {
    /// This machine's byte order.
    pub fn native() -> ByteOrder {
        if cfg!(target_endian = "big") {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        }
    }
}

// ANCHOR: header
/// The JSON header. Fields are written in this order; a reader ignores fields it does not know,
/// so a later version can add some (an `action`, a compression) without breaking old readers.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct Header {
    /// The byte order of numbers in binary content.
    pub byteorder: ByteOrder,
    /// What the content is: [`JSON`] or [`BINARY`].
    pub content_type: String,
    /// How the content's bytes are encoded: [`UTF8`] text or [`RAW`] bytes.
    pub content_encoding: String,
    /// Exactly how many bytes of content follow the header.
    pub content_length: u64,
}
// ANCHOR_END: header

/// One message: a header and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The header (its `content_length` is set from `content` when the message is written).
    pub header: Header,
    /// The content.
    pub content: Vec<u8>,
}

impl Message {
    /// A message whose content is `value` as UTF-8 JSON.
    pub fn json(value: &serde_json::Value) -> Message {
        Message::new(JSON, UTF8, value.to_string().into_bytes())
    }

    /// A message whose content is `bytes`, as they are.
    pub fn binary(bytes: Vec<u8>) -> Message {
        Message::new(BINARY, RAW, bytes)
    }

    fn new(content_type: &str, content_encoding: &str, content: Vec<u8>) -> Message {
        Message {
            header: Header {
                byteorder: ByteOrder::native(),
                content_type: content_type.to_string(),
                content_encoding: content_encoding.to_string(),
                content_length: content.len() as u64,
            },
            content,
        }
    }

    /// Whether the content is JSON.
    pub fn is_json(&self) -> bool {
        self.header.content_type == JSON
    }
}

/// Why a frame could not be read or written. Each says what was wrong, in the frame's own terms.
#[derive(Debug)]
pub enum FrameError {
    /// The stream ended inside a frame: `got` of the `want` bytes of `part` had arrived.
    Truncated {
        /// `header length`, `header` or `content`.
        part: &'static str,
        /// Bytes of that part that arrived.
        got: u64,
        /// Bytes of that part the frame needed.
        want: u64,
    },
    /// The 2-byte length claims a header longer than [`MAX_HEADER`].
    HeaderTooLong(usize),
    /// The header is not UTF-8 JSON with the four fields (the parser's words say which).
    InvalidHeader(String),
    /// `content-length` is over [`MAX_CONTENT`].
    ContentTooLong(u64),
    /// The socket failed (a reset, a timeout).
    Io(io::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated { part, got, want } => write!(
                f,
                "truncated frame: the stream ended after {got} of the {want} bytes of the {part}"
            ),
            FrameError::HeaderTooLong(len) => {
                write!(
                    f,
                    "header length {len} is over the limit of {MAX_HEADER} bytes"
                )?;
                // The classic bug: a sender that writes the length little-endian.
                let swapped = (*len as u16).swap_bytes() as usize;
                if swapped <= MAX_HEADER {
                    write!(
                        f,
                        " (read little-endian it would be {swapped}: the length must be \
                         big-endian, most significant byte first)"
                    )?;
                }
                Ok(())
            }
            FrameError::InvalidHeader(why) => write!(f, "invalid header: {why}"),
            FrameError::ContentTooLong(len) => write!(
                f,
                "content-length {len} is over the limit of {MAX_CONTENT} bytes"
            ),
            FrameError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> FrameError {
        FrameError::Io(e)
    }
}

// ANCHOR: encode
/// The bytes of one frame: length, header, content. Fails (writing nothing) when the header or
/// the content is over its limit, so a sender cannot produce a frame its peer must refuse.
pub fn encode(message: &Message) -> Result<Vec<u8>, FrameError> {
    let length = message.content.len() as u64;
    if length > MAX_CONTENT {
        return Err(FrameError::ContentTooLong(length));
    }
    // One source of truth: content-length is the length of the content we send.
    let header = Header {
        content_length: length,
        ..message.header.clone()
    };
    let header = serde_json::to_vec(&header)
        .map_err(|e| FrameError::InvalidHeader(format!("cannot serialise: {e}")))?;
    if header.len() > MAX_HEADER {
        return Err(FrameError::HeaderTooLong(header.len()));
    }
    let mut frame = Vec::with_capacity(LENGTH_BYTES + header.len() + message.content.len());
    // to_be_bytes: big-endian, network byte order, whatever this machine's own order is.
    frame.extend_from_slice(&(header.len() as u16).to_be_bytes());
    frame.extend_from_slice(&header);
    frame.extend_from_slice(&message.content);
    Ok(frame)
}
// ANCHOR_END: encode

/// Write one frame with `write_all` (a `send` may take only part of it).
pub fn write_message(writer: &mut impl Write, message: &Message) -> Result<(), FrameError> {
    writer.write_all(&encode(message)?)?;
    writer.flush()?;
    Ok(())
}

// ANCHOR: read_message
/// Read one frame. `Ok(None)`: the stream ended cleanly, between frames.
pub fn read_message(reader: &mut impl Read) -> Result<Option<Message>, FrameError> {
    // 1. Exactly 2 bytes: the header's length. Zero bytes here is a clean end.
    let mut prefix = [0u8; LENGTH_BYTES];
    match read_full(reader, &mut prefix)? {
        0 => return Ok(None),
        LENGTH_BYTES => {}
        got => return Err(truncated("header length", got, LENGTH_BYTES as u64)),
    }
    let header_length = u16::from_be_bytes(prefix) as usize;
    // 2. A claim, checked before anything is read for it.
    if header_length > MAX_HEADER {
        return Err(FrameError::HeaderTooLong(header_length));
    }
    // 3. Exactly that many bytes: the JSON header (at most MAX_HEADER, so this buffer is small).
    let mut header = vec![0u8; header_length];
    let got = read_full(reader, &mut header)?;
    if got < header_length {
        return Err(truncated("header", got, header_length as u64));
    }
    let header: Header =
        serde_json::from_slice(&header).map_err(|e| FrameError::InvalidHeader(e.to_string()))?;
    // 4. Another claim: refused before a single byte of content is read.
    if header.content_length > MAX_CONTENT {
        return Err(FrameError::ContentTooLong(header.content_length));
    }
    // 5. Exactly content-length bytes. The buffer grows with what arrives, never with what the
    // peer claimed: a peer that claims 1 MiB and sends 3 bytes costs us 3 bytes.
    let mut content = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while (content.len() as u64) < header.content_length {
        let left = header.content_length - content.len() as u64;
        let want = chunk.len().min(left as usize);
        match reader.read(&mut chunk[..want]) {
            Ok(0) => return Err(truncated("content", content.len(), header.content_length)),
            Ok(n) => content.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(Message { header, content }))
}
// ANCHOR_END: read_message

fn truncated(part: &'static str, got: usize, want: u64) -> FrameError {
    FrameError::Truncated {
        part,
        got: got as u64,
        want,
    }
}

/// Fill `buf` from `reader`, one `read` after another, until it is full or the stream ends.
/// Returns how many bytes arrived (less than `buf.len()` only at the end of the stream).
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A frame as annotated hex, 16 bytes a line: offset, bytes, the bytes as text, and which part
/// of the frame they are. The lesson page's captured exchange is made by this function.
pub fn annotate(frame: &[u8]) -> String {
    let mut parts: Vec<(String, &[u8])> = Vec::new();
    let (prefix, rest) = frame.split_at(frame.len().min(LENGTH_BYTES));
    let header_length = match prefix {
        [hi, lo] => u16::from_be_bytes([*hi, *lo]) as usize,
        _ => 0,
    };
    parts.push((
        format!(
            "header length: 0x{} = {header_length}, big-endian",
            hex(prefix, "")
        ),
        prefix,
    ));
    let (header, content) = rest.split_at(rest.len().min(header_length));
    parts.push((
        format!("header: {} bytes of UTF-8 JSON", header.len()),
        header,
    ));
    if !content.is_empty() {
        parts.push((format!("content: {} bytes", content.len()), content));
    }
    let mut out = String::new();
    let mut offset = 0;
    for (label, bytes) in parts {
        for (i, line) in bytes.chunks(16).enumerate() {
            let text: String = line
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            let note = if i == 0 { label.as_str() } else { "" };
            let row = format!("{offset:04x}  {:<47}  {text:<16}  {note}", hex(line, " "));
            out.push_str(row.trim_end());
            out.push('\n');
            offset += line.len();
        }
    }
    out
}

/// CRC-32 (the one of zlib, gzip and Ethernet; Python's `zlib.crc32`): the checksum a client
/// prints for binary content, so two programs can compare what they received in 8 hex digits.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            // Reflected polynomial 0xEDB88320, one bit at a time: short beats fast here.
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fn hex(bytes: &[u8], separator: &str) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(separator)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// A reader that hands out its bytes in the chunk sizes given, as a socket might.
    struct Chunked {
        data: Vec<u8>,
        at: usize,
        sizes: Vec<usize>,
        next: usize,
    }

    impl Read for Chunked {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let size = self
                .sizes
                .get(self.next)
                .copied()
                .unwrap_or(usize::MAX)
                .max(1);
            self.next += 1;
            let n = size.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn chunked(data: &[u8], sizes: Vec<usize>) -> Chunked {
        Chunked {
            data: data.to_vec(),
            at: 0,
            sizes,
            next: 0,
        }
    }

    fn decode_all(reader: &mut impl Read) -> Result<Vec<Message>, FrameError> {
        let mut messages = Vec::new();
        while let Some(message) = read_message(reader)? {
            messages.push(message);
        }
        Ok(messages)
    }

    fn stream(messages: &[Message]) -> Vec<u8> {
        messages.iter().flat_map(|m| encode(m).unwrap()).collect()
    }

    fn examples() -> Vec<Message> {
        vec![
            Message::json(&json!({"action": "search", "value": "socket"})),
            Message::binary((0..=255u8).collect()),
            Message::binary(Vec::new()),
            Message::json(&json!({"action": "search", "value": "🦀"})),
        ]
    }

    #[test]
    fn a_frame_is_length_header_content() {
        let frame = encode(&Message::binary(b"hi".to_vec())).unwrap();
        let header_length = u16::from_be_bytes([frame[0], frame[1]]) as usize;
        let header: serde_json::Value =
            serde_json::from_slice(&frame[2..2 + header_length]).unwrap();
        assert_eq!(header["content-length"], 2);
        assert_eq!(header["content-type"], BINARY);
        assert_eq!(header["content-encoding"], RAW);
        assert!(header["byteorder"] == "big" || header["byteorder"] == "little");
        assert_eq!(&frame[2 + header_length..], b"hi");
    }

    #[test]
    fn byte_at_a_time_and_all_at_once_agree() {
        let messages = examples();
        let data = stream(&messages);
        let one_by_one = decode_all(&mut chunked(&data, vec![1; data.len()])).unwrap();
        let at_once = decode_all(&mut &data[..]).unwrap();
        assert_eq!(one_by_one, messages);
        assert_eq!(at_once, messages);
    }

    #[test]
    fn a_claimed_length_over_the_limit_is_refused_before_reading_it() {
        let header = format!(
            r#"{{"byteorder":"big","content-type":"{BINARY}","content-encoding":"{RAW}","content-length":{}}}"#,
            MAX_CONTENT + 1
        );
        let mut data = (header.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(header.as_bytes());
        // No content follows: the reader must not wait for (or allocate) the claimed megabyte.
        let err = read_message(&mut &data[..]).unwrap_err();
        assert!(matches!(err, FrameError::ContentTooLong(n) if n == MAX_CONTENT + 1));
        let err = read_message(&mut &[0xff, 0xff][..]).unwrap_err();
        assert!(matches!(err, FrameError::HeaderTooLong(65535)), "{err}");
    }

    #[test]
    fn a_claim_within_the_limit_is_read_as_it_arrives() {
        let header = format!(
            r#"{{"byteorder":"big","content-type":"{BINARY}","content-encoding":"{RAW}","content-length":{MAX_CONTENT}}}"#
        );
        let mut data = (header.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(header.as_bytes());
        data.extend_from_slice(b"abc");
        let err = read_message(&mut &data[..]).unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { part: "content", got: 3, want } if want == MAX_CONTENT),
            "{err}"
        );
    }

    #[test]
    fn a_little_endian_length_is_named() {
        let frame = encode(&Message::binary(b"x".to_vec())).unwrap();
        let mut swapped = frame.clone();
        swapped.swap(0, 1);
        let err = read_message(&mut &swapped[..]).unwrap_err().to_string();
        assert!(err.contains("big-endian"), "{err}");
    }

    #[test]
    fn missing_fields_and_bad_json_are_named() {
        for (header, words) in [
            (r#"{"byteorder":"big"}"#, "missing field `content-type`"),
            ("{not json", "invalid header"),
            (
                r#"{"byteorder":"middle","content-type":"a","content-encoding":"b","content-length":0}"#,
                "unknown variant `middle`",
            ),
        ] {
            let mut data = (header.len() as u16).to_be_bytes().to_vec();
            data.extend_from_slice(header.as_bytes());
            let err = read_message(&mut &data[..]).unwrap_err().to_string();
            assert!(err.contains(words), "{err}");
        }
    }

    #[test]
    fn writing_over_the_limit_fails_and_writes_nothing() {
        let mut sink = Vec::new();
        let big = Message::binary(vec![0; MAX_CONTENT as usize + 1]);
        assert!(write_message(&mut sink, &big).is_err());
        assert!(sink.is_empty());
        assert!(encode(&Message::binary(vec![0; MAX_CONTENT as usize])).is_ok());
    }

    #[test]
    fn crc32_is_zlibs() {
        // python3 -c 'import zlib; print(hex(zlib.crc32(b"hello")))'
        assert_eq!(crc32(b"hello"), 0x3610_a686);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn annotate_labels_each_part() {
        let text = annotate(&encode(&Message::binary(b"hello".to_vec())).unwrap());
        assert!(text.starts_with("0000  00 "), "{text}");
        assert!(text.contains("big-endian"), "{text}");
        assert!(text.contains("bytes of UTF-8 JSON"), "{text}");
        assert!(text.contains("content: 5 bytes"), "{text}");
    }

    fn message() -> impl Strategy<Value = Message> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..2000).prop_map(Message::binary),
            (".{0,40}", ".{0,40}").prop_map(|(action, value)| Message::json(
                &json!({"action": action, "value": value})
            )),
        ]
    }

    // The bounded property run. `cargo test` runs proptest's default number of cases;
    // `.ci/run` runs more with PROPTEST_CASES (see lessons/08_protocol.md#the-property-test).
    proptest! {
        /// Any split of a valid stream decodes to the same messages.
        #[test]
        fn any_split_decodes_the_same(
            messages in proptest::collection::vec(message(), 0..6),
            sizes in proptest::collection::vec(1usize..300, 0..200),
        ) {
            let data = stream(&messages);
            let decoded = decode_all(&mut chunked(&data, sizes)).unwrap();
            prop_assert_eq!(decoded, messages);
        }

        /// Cut anywhere: the messages before the cut come out, then a clean end (cut between
        /// frames) or a `Truncated` error naming the part (cut inside one).
        #[test]
        fn any_cut_is_a_clean_end_or_a_truncated_frame(
            messages in proptest::collection::vec(message(), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let data = stream(&messages);
            let cut = cut.index(data.len());
            let mut boundaries = vec![0];
            for m in &messages {
                boundaries.push(boundaries.last().unwrap() + encode(m).unwrap().len());
            }
            let whole = boundaries.iter().filter(|&&b| b > 0 && b <= cut).count();
            let mut reader = &data[..cut];
            for m in &messages[..whole] {
                prop_assert_eq!(read_message(&mut reader).unwrap(), Some(m.clone()));
            }
            match read_message(&mut reader) {
                Ok(None) => prop_assert!(boundaries.contains(&cut)),
                Err(FrameError::Truncated { .. }) => prop_assert!(!boundaries.contains(&cut)),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        /// Any bytes at all: never a panic, never more memory than arrived plus one header,
        /// and every error says what was wrong.
        #[test]
        fn garbage_gives_messages_or_a_clear_error(
            data in proptest::collection::vec(any::<u8>(), 0..3000),
        ) {
            let mut reader = &data[..];
            loop {
                match read_message(&mut reader) {
                    Ok(Some(m)) => prop_assert!(m.content.len() as u64 <= MAX_CONTENT),
                    Ok(None) => break,
                    Err(e) => {
                        prop_assert!(!matches!(e, FrameError::Io(_)));
                        prop_assert!(e.to_string().len() > 20);
                        break;
                    }
                }
            }
        }

        /// One byte of a frame's length or header changed: an error, or (a letter of a string
        /// changed) a different message — never the original, never a panic.
        #[test]
        fn a_corrupted_prefix_or_header_is_refused_or_reparsed(
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let message = Message::json(&json!({"action": "search", "value": "socket"}));
            let mut frame = encode(&message).unwrap();
            let header_end = LENGTH_BYTES + u16::from_be_bytes([frame[0], frame[1]]) as usize;
            let at = at.index(header_end);
            let original = frame[at];
            frame[at] = byte;
            let decoded = decode_all(&mut &frame[..]);
            if byte == original {
                prop_assert_eq!(decoded.unwrap(), vec![message]);
            } else if at < LENGTH_BYTES {
                // A wrong length cuts the JSON short or runs into the content: never valid.
                prop_assert!(decoded.is_err());
            } else {
                // Never mistaken for the original message.
                prop_assert!(decoded.map_or(true, |d| d != vec![message]));
            }
        }
    }
}
