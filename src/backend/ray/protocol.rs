//! The framed protocol between a Ray worker's trampoline (`bridge.py`) and
//! the program it started in worker mode.
//!
//! A frame is a little-endian `u32` length, then that many bytes: a
//! `u32` count of parts, then each part as a `u32` length and its bytes.
//! The first part names the message:
//!
//! - `call`, function, attempt (Ray's number of it, in decimal), split
//!   (empty, or the `num_returns` a returned `Vec` is split into), encoded
//!   arguments… → `ok`, encoded results… (`mcall`, and `mcreate` and
//!   `mmethod` below: the same with arguments and results in MessagePack,
//!   for a Python program's calls)
//! - `create`, actor, constructor, max concurrency, concurrency groups
//!   (`io=2,cpu=1`), encoded arguments… → `ok`
//! - `method`, method, attempt, encoded arguments… → `ok`, encoded
//!   results… (`exit` instead of `ok` when the actor called `exit_actor()`:
//!   the trampoline ends its Ray actor after this call)
//! - `cmethod`, id, method, attempt, encoded arguments… → `ok` (or
//!   `exit`), id, encoded results… (an actor with `max_concurrency` above 1
//!   or concurrency groups: replies come in any order, under their
//!   request's id)
//!
//! - `stream`, function, attempt, encoded arguments… → `ok`: a streaming
//!   generator starts; `smethod`, method, encoded arguments… → `ok`: a
//!   streaming method starts (`csmethod`, id, method, … → `ok`, id, key:
//!   the same in a concurrent actor, its stream under `key`);
//! - `next` → `item`, encoded item | `end`: the started stream's next
//!   item, or its end (`cnext`, id, key → `item`, id, … | `end`, id);
//! - `sdrop`, key (empty for the started stream): the trampoline reads the
//!   stream no more (not answered);
//!
//! and a failure of any is `err`, (id,) kind, task, message (see
//! [`Failure`]).

use std::io::{self, Read, Write};

/// Frames larger than this are refused (a broken peer, not a value: Ray
/// keeps objects of any size, but one call's arguments stay far below).
const MAX_FRAME: usize = 1 << 31;

/// Reads one frame's parts; `None` at a clean end of the stream.
pub(crate) fn read_frame(reader: &mut impl Read) -> io::Result<Option<Vec<Vec<u8>>>> {
    let mut head = [0u8; 4];
    match reader.read_exact(&mut head) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    let len = u32::from_le_bytes(head) as usize;
    if len > MAX_FRAME {
        return Err(invalid(format!("a frame of {len} bytes")));
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    parse(&body).map(Some)
}

fn invalid(what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("RustyRay worker protocol: {what}"),
    )
}

fn parse(body: &[u8]) -> io::Result<Vec<Vec<u8>>> {
    let mut rest = body;
    let take_u32 = |rest: &mut &[u8]| -> io::Result<usize> {
        let (head, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| invalid("a truncated frame".into()))?;
        *rest = tail;
        Ok(u32::from_le_bytes(*head) as usize)
    };
    let count = take_u32(&mut rest)?;
    let mut parts = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let len = take_u32(&mut rest)?;
        if len > rest.len() {
            return Err(invalid("a part longer than its frame".into()));
        }
        let (part, tail) = rest.split_at(len);
        parts.push(part.to_vec());
        rest = tail;
    }
    Ok(parts)
}

/// Writes one frame of `parts`.
pub(crate) fn write_frame(writer: &mut impl Write, parts: &[&[u8]]) -> io::Result<()> {
    let body_len = 4 + parts.iter().map(|p| 4 + p.len()).sum::<usize>();
    let too_long = || invalid(format!("a frame of {body_len} bytes"));
    let mut frame = Vec::with_capacity(4 + body_len);
    frame.extend_from_slice(
        &u32::try_from(body_len)
            .map_err(|_| too_long())?
            .to_le_bytes(),
    );
    frame.extend_from_slice(&(parts.len() as u32).to_le_bytes());
    for part in parts {
        frame.extend_from_slice(
            &u32::try_from(part.len())
                .map_err(|_| too_long())?
                .to_le_bytes(),
        );
        frame.extend_from_slice(part);
    }
    writer.write_all(&frame)?;
    writer.flush()
}

/// How a failed call is reported across the protocol and Ray: a kind the
/// driver maps back to an [`Error`](crate::Error) variant, the task (or
/// actor) it concerns and the message.
#[derive(Clone)]
pub(crate) struct Failure {
    pub(crate) kind: &'static str,
    pub(crate) task: String,
    pub(crate) message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &[b"call", b"", b"\x01\x02"]).unwrap();
        write_frame(&mut buf, &[]).unwrap();
        let mut reader = &buf[..];
        assert_eq!(
            read_frame(&mut reader).unwrap(),
            Some(vec![b"call".to_vec(), vec![], vec![1, 2]])
        );
        assert_eq!(read_frame(&mut reader).unwrap(), Some(vec![]));
        assert_eq!(read_frame(&mut reader).unwrap(), None);
    }

    #[test]
    fn truncated_frames_are_errors() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &[b"call"]).unwrap();
        buf[4] = 9; // claims 9 parts
        assert!(read_frame(&mut &buf[..]).is_err());
    }
}
