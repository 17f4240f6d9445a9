//! The SASL exchange at the start of a connection (feature `sasl`): after the session handshake
//! and before anything else, `sasl` requests carry the mechanism's tokens until it completes.
//! It runs on every connection, so the identity is there again after each reconnection.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::proto::requests::SaslRequest;
use crate::proto::{self, encode_request, xid, ErrorCode, FrameReader, Incoming, OpCode, ReplyHeader};
use crate::sasl::DigestMd5;

/// A user and password for SASL DIGEST-MD5.
#[derive(Clone)]
pub struct SaslLogin {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SaslLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslLogin").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

/// How an exchange failed.
pub(crate) enum SaslFailure {
    /// The connection failed or spoke nonsense: try another server.
    Connection(String),
    /// The credentials were refused (or the server could not prove it knows them): the session
    /// is over with `AuthFailed`, as in the Java client.
    Refused(String),
}

/// Runs DIGEST-MD5 for `login` over a freshly established connection.
pub(crate) async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    frames: &mut FrameReader,
    login: &SaslLogin,
    server: &str,
    max_write: usize,
) -> Result<(), SaslFailure> {
    let conn = |e: String| SaslFailure::Connection(format!("{server}: SASL: {e}"));
    let mut mechanism = DigestMd5::new(login.username.clone(), login.password.clone());
    let mut token = mechanism.initial();
    loop {
        let mut out = BytesMut::new();
        let request = SaslRequest { token: (&token[..]).into() };
        encode_request(&mut out, xid::SASL, OpCode::Sasl, Some(&request), max_write)
            .map_err(|e| conn(e.to_string()))?;
        stream.write_all(&out).await.map_err(|e| conn(e.to_string()))?;
        let mut frame = loop {
            match frames.next_frame().map_err(|e| conn(e.to_string()))? {
                Some(Incoming::Frame(frame)) => break frame,
                Some(Incoming::TooLarge { length, .. }) => return Err(conn(format!("a {length}-byte SASL reply"))),
                None => {}
            }
            if stream.read_buf(frames.buffer()).await.map_err(|e| conn(e.to_string()))? == 0 {
                // The server closes the connection after refusing the credentials.
                return Err(SaslFailure::Refused(format!("{server} closed the connection during SASL authentication")));
            }
        };
        let header: ReplyHeader = {
            let mut r = proto::Reader::new(frame.clone(), "ReplyHeader");
            proto::Decode::decode(&mut r).map_err(|e: proto::DecodeError| conn(e.to_string()))?
        };
        if header.err == ErrorCode::AuthFailed.code() || header.err == ErrorCode::SessionClosedRequireSaslAuth.code() {
            return Err(SaslFailure::Refused(format!("{server} refused the SASL credentials of {}", login.username)));
        }
        if header.err != 0 {
            return Err(conn(format!("error {} answering a SASL token", header.err)));
        }
        // The header just decoded was the frame's first 16 bytes, so they are there to skip.
        frame.advance(16);
        let reply = proto::any::decode_sasl_token(frame).map_err(|e| conn(e.to_string()))?.unwrap_or_default();
        match mechanism.step(&reply) {
            Ok(Some(next)) => token = next,
            Ok(None) => return Ok(()),
            Err(e) => return Err(SaslFailure::Refused(format!("{server}: {e}"))),
        }
    }
}
