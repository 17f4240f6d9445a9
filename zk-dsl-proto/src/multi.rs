//! multi (op 14) and multiRead (op 22): several operations in one request.
//!
//! Each op travels behind a `MultiHeader{type, done=false, err=-1}`; the list ends with
//! `{-1, true, -1}`. The reply mirrors it. A failed multi still has reply header err 0: the
//! failing op carries its own code, the ops before it 0 (rolled back), the ops after it
//! RuntimeInconsistency, so the caller must scan the results.

use bytes::{BufMut, Bytes, BytesMut};

use super::codes::OpCode;
use super::jute::{Decode, Encode, JuteWrite, Reader};
use super::records::Stat;
use super::requests::{CreateRequest, PathVersionRequest, PathWatchRequest, SetDataRequest};
use super::DecodeError;

/// One operation of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp<'a> {
    /// Sent with `mode.opcode()` (create2, createContainer or createTTL) so the Stat comes back.
    Create(CreateRequest<'a>),
    Delete(PathVersionRequest<'a>),
    SetData(SetDataRequest<'a>),
    Check(PathVersionRequest<'a>),
    /// multiRead only.
    GetData(PathWatchRequest<'a>),
    /// multiRead only.
    GetChildren(PathWatchRequest<'a>),
}

impl MultiOp<'_> {
    pub fn opcode(&self) -> OpCode {
        match self {
            MultiOp::Create(c) => c.mode.opcode(),
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetData(_) => OpCode::GetData,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(c) => &c.path,
            MultiOp::Delete(d) | MultiOp::Check(d) => &d.path,
            MultiOp::SetData(s) => &s.path,
            MultiOp::GetData(g) | MultiOp::GetChildren(g) => &g.path,
        }
    }

    /// Whether this op may appear in a multiRead (reads) rather than a multi (writes).
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetData(_) | MultiOp::GetChildren(_))
    }
}

fn put_header(buf: &mut BytesMut, op: i32, done: bool, err: i32) {
    buf.put_i32(op);
    buf.put_bool(done);
    buf.put_i32(err);
}

struct MultiHeader {
    op: i32,
    done: bool,
    err: i32,
}

fn read_header(r: &mut Reader) -> Result<MultiHeader, DecodeError> {
    Ok(MultiHeader {
        op: r.i32("MultiHeader.type")?,
        done: r.bool("MultiHeader.done")?,
        err: r.i32("MultiHeader.err")?,
    })
}

/// The body of a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiRequest<'a> {
    pub ops: Vec<MultiOp<'a>>,
}

impl Encode for MultiRequest<'_> {
    fn encode(&self, buf: &mut BytesMut) {
        for op in &self.ops {
            put_header(buf, op.opcode().code(), false, -1);
            match op {
                MultiOp::Create(c) => c.encode(buf),
                MultiOp::Delete(d) | MultiOp::Check(d) => d.encode(buf),
                MultiOp::SetData(s) => s.encode(buf),
                MultiOp::GetData(g) | MultiOp::GetChildren(g) => g.encode(buf),
            }
        }
        put_header(buf, -1, true, -1);
    }
}

impl Decode for MultiRequest<'static> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("MultiRequest");
        let mut ops = Vec::new();
        loop {
            let h = read_header(r)?;
            if h.done {
                return Ok(MultiRequest { ops });
            }
            let op = match OpCode::from_code(h.op)? {
                OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                    MultiOp::Create(CreateRequest::decode(r)?)
                }
                OpCode::Delete => MultiOp::Delete(PathVersionRequest::decode(r)?),
                OpCode::SetData => MultiOp::SetData(SetDataRequest::decode(r)?),
                OpCode::Check => MultiOp::Check(PathVersionRequest::decode(r)?),
                OpCode::GetData => MultiOp::GetData(PathWatchRequest::decode(r)?),
                OpCode::GetChildren => MultiOp::GetChildren(PathWatchRequest::decode(r)?),
                other => return Err(DecodeError::Unexpected { what: "op in a multi", value: other.code() as i64 }),
            };
            ops.push(op);
        }
    }
}

/// The result of one op of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    /// create (no Stat) or create2/createContainer/createTTL (with Stat).
    Create {
        path: String,
        stat: Option<Stat>,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    GetData {
        data: Option<Bytes>,
        stat: Stat,
    },
    GetChildren {
        children: Vec<String>,
    },
    /// The op failed (its own code), was rolled back (0), or was skipped because an earlier op
    /// failed (RuntimeInconsistency, -2). The code is raw; see [`ErrorCode`](super::ErrorCode).
    Error {
        code: i32,
    },
}

impl MultiResult {
    fn opcode(&self) -> i32 {
        match self {
            MultiResult::Create { stat: None, .. } => OpCode::Create.code(),
            MultiResult::Create { stat: Some(_), .. } => OpCode::Create2.code(),
            MultiResult::Delete => OpCode::Delete.code(),
            MultiResult::SetData { .. } => OpCode::SetData.code(),
            MultiResult::Check => OpCode::Check.code(),
            MultiResult::GetData { .. } => OpCode::GetData.code(),
            MultiResult::GetChildren { .. } => OpCode::GetChildren.code(),
            MultiResult::Error { .. } => OpCode::Error.code(),
        }
    }
}

/// The body of a multi or multiRead reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiResponse {
    pub results: Vec<MultiResult>,
}

impl MultiResponse {
    /// The first op that really failed: its index and code. Rolled-back ops report 0 and the
    /// ops after the failure report RuntimeInconsistency, so the first non-zero code is the cause.
    pub fn first_error(&self) -> Option<(usize, i32)> {
        self.results.iter().enumerate().find_map(|(i, r)| match r {
            MultiResult::Error { code } if *code != 0 => Some((i, *code)),
            _ => None,
        })
    }
}

impl Encode for MultiResponse {
    fn encode(&self, buf: &mut BytesMut) {
        for res in &self.results {
            let err = match res {
                MultiResult::Error { code } => *code,
                _ => 0,
            };
            put_header(buf, res.opcode(), false, err);
            match res {
                MultiResult::Create { path, stat } => {
                    buf.put_string(path);
                    if let Some(stat) = stat {
                        stat.encode(buf);
                    }
                }
                MultiResult::Delete | MultiResult::Check => {}
                MultiResult::SetData { stat } => stat.encode(buf),
                MultiResult::GetData { data, stat } => {
                    buf.put_buffer(data.as_deref());
                    stat.encode(buf);
                }
                MultiResult::GetChildren { children } => buf.put_strings(children),
                MultiResult::Error { code } => buf.put_i32(*code),
            }
        }
        put_header(buf, -1, true, -1);
    }
}

impl Decode for MultiResponse {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("MultiResponse");
        let mut results = Vec::new();
        loop {
            let h = read_header(r)?;
            if h.done {
                return Ok(MultiResponse { results });
            }
            let result = match OpCode::from_code(h.op)? {
                OpCode::Create => MultiResult::Create { path: r.string("path")?, stat: None },
                OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                    MultiResult::Create { path: r.string("path")?, stat: Some(Stat::decode(r)?) }
                }
                OpCode::Delete => MultiResult::Delete,
                OpCode::SetData => MultiResult::SetData { stat: Stat::decode(r)? },
                OpCode::Check => MultiResult::Check,
                OpCode::GetData => MultiResult::GetData { data: r.buffer("data")?, stat: Stat::decode(r)? },
                OpCode::GetChildren => MultiResult::GetChildren { children: r.strings("children")? },
                OpCode::Error => MultiResult::Error { code: r.i32("err")? },
                other => {
                    return Err(DecodeError::Unexpected { what: "result in a multi reply", value: other.code() as i64 })
                }
            };
            // The header's err and an ErrorResponse body agree on servers we know; trust the body
            // but do not ignore a header that reports a failure for a non-error body.
            if h.err != 0 && !matches!(result, MultiResult::Error { .. }) {
                results.push(MultiResult::Error { code: h.err });
            } else {
                results.push(result);
            }
        }
    }
}
