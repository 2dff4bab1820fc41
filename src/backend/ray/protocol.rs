//! The framed protocol between a Ray worker's trampoline (`bridge.py`) and
//! the program serving it: a worker-mode child it started, or the program
//! the Ray worker itself is, on a socket pair within it (`host.rs`).
//!
//! A frame is a little-endian `u32` length, then that many bytes: a
//! `u32` count of parts, then each part as a `u32` length and its bytes.
//! The first part names the message:
//!
//! - `call`, function, attempt (Ray's number of it, in decimal, then `/`
//!   and Ray's hex task id where the trampoline knows it), split
//!   (empty, or the `num_returns` a returned `Vec` is split into), encoded
//!   arguments… → `ok`, encoded results… (`mcall`, and `mcreate` and
//!   `mmethod` below: the same with arguments and results in MessagePack,
//!   for a Python program's calls)
//! - `create`, actor, constructor, max concurrency, concurrency groups
//!   (`io=2,cpu=1`), Ray's hex actor id (or empty), encoded arguments… →
//!   `ok`
//! - `method`, method, attempt, encoded arguments… → `ok`, encoded
//!   results… (`exit` instead of `ok` when the actor called `exit_actor()`:
//!   the trampoline ends its Ray actor after this call); a program that is
//!   the Ray worker itself takes this request as a call, not on the socket
//!   (see `host.rs`)
//! - `cmethod`, id, method, attempt, encoded arguments… → `ok` (or
//!   `exit`), id, encoded results… (replies come in any order, under their
//!   request's id: an actor with `max_concurrency` above 1 or concurrency
//!   groups runs several calls at once)
//!
//! - `stream`, function, attempt, encoded arguments… → `ok`: a streaming
//!   generator starts; `csmethod`, id, method, encoded arguments… → `ok`,
//!   id, key: a streaming method starts, its stream under `key`;
//! - `next` → `item`, encoded item | `end`: the started stream's next
//!   item, or its end (`cnext`, id, key → `item`, id, … | `end`, id);
//! - `sdrop`, key (empty for the started stream): the trampoline reads the
//!   stream no more (not answered);
//!
//! and a failure of any is `err`, (id,) kind, task, message (see
//! [`Failure`]).
//!
//! Values that hold refs: a request whose arguments hold refs is marked
//! `r` (`rcall`, `rcreate`, `rmethod`, `rcmethod`, `rstream`,
//! `rcsmethod`) and carries one more part, after the kind (after the id,
//! for a request with one): the objects those refs name, in the order the
//! arguments' bytes name them, written as [`write_value`] writes a value
//! with no bytes of its own. A call whose results hold refs is answered
//! `okv` (or `exitv`) instead of `ok`, each result written by
//! [`write_value`].
//!
//! The program's own requests, while it serves (a call in it uses a Ray
//! actor whose handle it was passed, or waits for an object Ray makes),
//! are marked `q` and carry an id of the program's; the trampoline answers
//! `re`, id, … or `rerr`, id, kind, task, message:
//!
//! - `qacall`, id, result ids (`o1,o2`: the program names the objects,
//!   so it knows each before the trampoline says it is complete), actor,
//!   method, result count, concurrency group (or empty), max retries (or
//!   empty), retry exceptions (`1` or empty), arguments… → `re`, id: a
//!   call of a Ray actor the trampoline holds; each argument is `o` and an
//!   object id (a ref Ray resolves) or `v` and a value ([`write_value`]);
//! - `qastream`, id, stream id (the program names it, as a result),
//!   actor, method, concurrency group (or empty), backpressure (or empty),
//!   arguments… → `re`, id: a call of a streaming method of a Ray actor
//!   the trampoline holds, which keeps its generator under the stream id;
//!   `qnext`, id, stream id → `re`, id, `item`, encoded item | `re`, id,
//!   `end` (or `rerr` with the error that ended the stream): its next
//!   item; `qcancel` of the stream id stops it, and `qfree` forgets it;
//! - `qcall`, id, result ids, function, split (empty, or the
//!   `num_returns` a returned `Vec` is split into), result count, task
//!   name, CPUs, max retries, retry exceptions (`1` or empty), custom
//!   resources (`a=1,b=2`), placement group (its id, or empty), bundle (or
//!   empty: any), arguments… → `re`, id: a task the program's call
//!   submitted, made by the trampoline in Ray;
//! - `qcreate`, id, actor type, constructor, methods (`a,b`), CPUs, max
//!   restarts, max task retries, max concurrency, concurrency groups
//!   (`io=2`), name (or empty), namespace, get if exists (`1` or empty),
//!   custom resources, placement group, bundle (as for `qcall`),
//!   arguments… → `re`, id, actor id, Ray's hex id of
//!   it: a Ray actor the program's call created; `qgetactor`, id, name,
//!   namespace → `re`, id, actor id, actor type, concurrency groups'
//!   names, Ray's hex id of it;
//! - `qget`, id, timeout (seconds, or empty: none), count, object ids… →
//!   `re`, id once `count` of them are complete (all: or one failed) or
//!   the timeout passed (the trampoline waits in Ray's `get` for all and
//!   in Ray's `wait` for fewer, which both count its worker as blocked; a
//!   stream id is ready when the stream's next item is);
//! - `qcancel`, object id; `qkill`, actor, no restart (`1` or empty);
//!   `qremovegroup`, placement group (Ray removes it); `qfree`, object
//!   ids…, `qfreeactor`, actor and `qfreegroup`, placement group (the
//!   program holds them no more): not answered.
//!
//! The trampoline tells the program when an object it holds for it is
//! complete: `done`, object id, value ([`write_value`]) or `fail`, object
//! id, kind, task, message.

use std::io::{self, Read, Write};

use crate::error::Error;

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
    let count = take_u32(&mut rest)?;
    let mut parts = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        parts.push(take_part(&mut rest)?.to_vec());
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

/// A value as the protocol carries it: its bytes, and what the refs and
/// actor handles inside name, in encoding order.
pub(crate) struct WireValue {
    pub(crate) bytes: Vec<u8>,
    pub(crate) inside: Vec<WireInside>,
}

/// What a ref or a handle inside a [`WireValue`] names.
pub(crate) enum WireInside {
    /// An object, by value.
    Value(WireValue),
    /// An object that failed, as its error.
    Failed(Error),
    /// An object the trampoline holds, by its id there.
    Object(String),
    /// An actor the trampoline holds, by its id there, with its
    /// concurrency groups' names (`io,cpu`) and Ray's hex id of it.
    Actor {
        id: String,
        groups: String,
        ray: String,
    },
    /// A placement group the trampoline holds, by its id there, with the
    /// id there of the object that completes once it is reserved.
    Group { id: String, ready: String },
}

/// Names as the protocol lists them (`io,cpu`).
pub(crate) fn names(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// Appends `value` as the protocol writes one: a `u32` count of what is
/// inside, each as a `u32` length and a tagged item, then the value's own
/// bytes to the end. An item is `v` then a value written the same way,
/// `e` then a failure's kind, task and message, `o` then an object's id,
/// or `a` then an actor's id, groups and Ray's id (each text a `u32`
/// length and its bytes).
pub(crate) fn write_value(out: &mut Vec<u8>, value: &WireValue) {
    out.extend_from_slice(&(value.inside.len() as u32).to_le_bytes());
    for inside in &value.inside {
        let mut item = Vec::new();
        let text = |item: &mut Vec<u8>, text: &str| {
            item.extend_from_slice(&(text.len() as u32).to_le_bytes());
            item.extend_from_slice(text.as_bytes());
        };
        match inside {
            WireInside::Value(value) => {
                item.push(b'v');
                write_value(&mut item, value);
            }
            WireInside::Failed(err) => {
                let failure = super::worker::failure(err);
                item.push(b'e');
                for part in [failure.kind, &failure.task, &failure.message] {
                    text(&mut item, part);
                }
            }
            WireInside::Object(id) => {
                item.push(b'o');
                text(&mut item, id);
            }
            WireInside::Actor { id, groups, ray } => {
                item.push(b'a');
                for part in [id, groups, ray] {
                    text(&mut item, part);
                }
            }
            WireInside::Group { id, ready } => {
                item.push(b'g');
                for part in [id, ready] {
                    text(&mut item, part);
                }
            }
        }
        out.extend_from_slice(&(item.len() as u32).to_le_bytes());
        out.extend_from_slice(&item);
    }
    out.extend_from_slice(&value.bytes);
}

/// Reads a value [`write_value`] wrote.
pub(crate) fn read_value(mut rest: &[u8]) -> io::Result<WireValue> {
    let count = take_u32(&mut rest)?;
    let mut inside = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let item = take_part(&mut rest)?;
        let Some((&tag, mut fields)) = item.split_first() else {
            return Err(invalid("an empty item inside a value".into()));
        };
        let mut text = || -> io::Result<String> {
            Ok(String::from_utf8_lossy(take_part(&mut fields)?).into_owned())
        };
        inside.push(match tag {
            b'v' => WireInside::Value(read_value(fields)?),
            b'e' => {
                let (kind, task, message) = (text()?, text()?, text()?);
                WireInside::Failed(super::error_of(&kind, "", task, message))
            }
            b'o' => WireInside::Object(text()?),
            b'a' => {
                let (id, groups, ray) = (text()?, text()?, text()?);
                WireInside::Actor { id, groups, ray }
            }
            b'g' => {
                let (id, ready) = (text()?, text()?);
                WireInside::Group { id, ready }
            }
            _ => return Err(invalid("an item of no known kind inside a value".into())),
        });
    }
    Ok(WireValue {
        bytes: rest.to_vec(),
        inside,
    })
}

fn take_u32(rest: &mut &[u8]) -> io::Result<usize> {
    let (head, tail) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| invalid("a truncated frame".into()))?;
    *rest = tail;
    Ok(u32::from_le_bytes(*head) as usize)
}

/// A `u32` length, then that many bytes.
fn take_part<'a>(rest: &mut &'a [u8]) -> io::Result<&'a [u8]> {
    let len = take_u32(rest)?;
    if len > rest.len() {
        return Err(invalid("a part longer than its frame".into()));
    }
    let (part, tail) = rest.split_at(len);
    *rest = tail;
    Ok(part)
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
    fn values_with_what_their_refs_name_round_trip() {
        let failed = Error::TaskFailed {
            task: "t".into(),
            message: "m".into(),
            cause: None,
        };
        let inner = WireValue {
            bytes: vec![3],
            inside: Vec::new(),
        };
        let value = WireValue {
            bytes: vec![1, 2],
            inside: vec![
                WireInside::Value(inner),
                WireInside::Failed(failed),
                WireInside::Object("7".into()),
                WireInside::Actor {
                    id: "3".into(),
                    groups: "io,cpu".into(),
                    ray: "ab".into(),
                },
                WireInside::Group {
                    id: "4".into(),
                    ready: "5".into(),
                },
            ],
        };
        let mut part = Vec::new();
        write_value(&mut part, &value);
        let back = read_value(&part).unwrap();
        assert_eq!(back.bytes, vec![1, 2]);
        assert_eq!(back.inside.len(), 5);
        match &back.inside[0] {
            WireInside::Value(inner) => {
                assert_eq!(
                    (inner.bytes.as_slice(), inner.inside.len()),
                    (&[3u8][..], 0)
                )
            }
            _ => panic!("expected the object by value"),
        }
        match &back.inside[1] {
            WireInside::Failed(Error::TaskFailed { task, message, .. }) => {
                assert_eq!((task.as_str(), message.as_str()), ("t", "m"))
            }
            _ => panic!("expected TaskFailed"),
        }
        assert!(matches!(&back.inside[2], WireInside::Object(id) if id == "7"));
        assert!(matches!(
            &back.inside[3],
            WireInside::Actor { id, groups, ray } if id == "3" && groups == "io,cpu" && ray == "ab"
        ));
        assert!(matches!(
            &back.inside[4],
            WireInside::Group { id, ready } if id == "4" && ready == "5"
        ));
        assert!(read_value(&part[..part.len() - 3]).is_err());
    }

    #[test]
    fn truncated_frames_are_errors() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &[b"call"]).unwrap();
        buf[4] = 9; // claims 9 parts
        assert!(read_frame(&mut &buf[..]).is_err());
    }
}
