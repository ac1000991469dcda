//! Answers written byte for byte: the faults that hyper cannot send.
//!
//! hyper writes only well-formed HTTP/1.1: one `Content-Length`, no folded
//! header, no interim response but `100 Continue`, chunks it frames itself,
//! a close and never a reset. For the faults that need more, the request
//! handler returns [`NoResponse::Raw`](super::routes::NoResponse::Raw) with
//! a [`RawAnswer`]. hyper then ends the connection without writing a byte
//! (an error of the service), the connection task takes the socket back
//! from it (`Connection::into_parts`) and writes the answer itself with
//! [`RawAnswer::write_to`], and the connection ends there: closed, or
//! reset.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::shutdown::stopped;
use crate::config::Fault;
use crate::stats::InFlight;

/// A GIF of one pixel, 26 bytes: the image of the second response that
/// [`Fault::AfterBody`] sends unasked (and of [`Fault::RedirectToData`]'s
/// `data:` URL). It is no flag of any code, so a client that took it for
/// one would be caught saving it.
pub(super) const PIXEL_GIF: &[u8] =
    b"GIF89a\x01\x00\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x00;";
/// [`PIXEL_GIF`] in base64, for a `data:` URL.
pub(super) const PIXEL_GIF_BASE64: &str = "R0lGODlhAQABAAAAACwAAAAAAQABAAACADs=";
/// Before a reset, the answer gets this long to reach the client: a reset
/// drops whatever the kernel has not sent yet.
const RESET_PAUSE: Duration = Duration::from_millis(20);

/// A stream a raw answer can be written to: a TCP socket, or TLS over one.
pub(super) trait RawStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// The TCP socket under the stream, to reset it.
    fn tcp(&self) -> &TcpStream;
}

impl RawStream for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl RawStream for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

/// How the connection ends once the bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// A clean close (FIN): for a body delimited by the close, its end.
    Close,
    /// A reset (RST): `SO_LINGER` 0, then close.
    Reset,
}

/// The bytes of a fault's answer and how its connection ends, with the
/// request's in-flight guard, dropped once they are written.
#[derive(Debug)]
pub(crate) struct RawAnswer {
    bytes: Vec<u8>,
    ending: Ending,
    in_flight: InFlight,
}

/// Carries a [`RawAnswer`] from the handler, inside hyper's error, to the
/// connection task, which finds it there by reference (hyper keeps the
/// error) and takes it out.
#[derive(Debug)]
pub(crate) struct Handover(Mutex<Option<RawAnswer>>);

impl Handover {
    /// The answer, the first time it is asked for.
    pub(super) fn take(&self) -> Option<RawAnswer> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl RawAnswer {
    /// The answer of `fault` around `content`, or `None` for a fault that
    /// hyper sends. The request counts as a 200 under the fault's name.
    pub(super) fn for_fault(
        fault: Fault,
        content: &[u8],
        content_type: &str,
        mut in_flight: InFlight,
    ) -> Result<Handover, InFlight> {
        let len = content.len();
        let ok_head = |fields: &str| {
            format!("HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\n{fields}\r\n").into_bytes()
        };
        let length = format!("content-length: {len}\r\n");
        let (first_half, second_half) = content.split_at(len / 2);
        let (bytes, ending) = match fault {
            Fault::Informational => {
                let mut bytes =
                    b"HTTP/1.1 103 Early Hints\r\nlink: </flags/>; rel=preconnect\r\n\r\n\
                                  HTTP/1.1 100 Continue\r\n\r\n"
                        .to_vec();
                bytes.extend(ok_head(&length));
                bytes.extend(content);
                (bytes, Ending::Close)
            }
            Fault::DuplicateLength => {
                let shorter = len.saturating_sub(1);
                let mut bytes = ok_head(&format!("{length}content-length: {shorter}\r\n"));
                bytes.extend(content);
                (bytes, Ending::Close)
            }
            Fault::LengthAndChunked => {
                let mut bytes = ok_head(&format!("{length}transfer-encoding: chunked\r\n"));
                bytes.extend(chunk(first_half));
                bytes.extend(chunk(second_half));
                bytes.extend(b"0\r\n\r\n");
                (bytes, Ending::Close)
            }
            Fault::BadChunk => {
                let mut bytes = ok_head("transfer-encoding: chunked\r\n");
                bytes.extend(chunk(first_half));
                // The size line of the second chunk: no hexadecimal number.
                bytes.extend(b"zz\r\n");
                bytes.extend(second_half);
                bytes.extend(b"\r\n0\r\n\r\n");
                (bytes, Ending::Close)
            }
            Fault::Trailers => {
                let mut bytes = ok_head("transfer-encoding: chunked\r\ntrailer: x-flag-length\r\n");
                bytes.extend(chunk(first_half));
                bytes.extend(chunk(second_half));
                bytes.extend(format!("0\r\nx-flag-length: {len}\r\n\r\n").as_bytes());
                (bytes, Ending::Close)
            }
            Fault::CloseDelimited => {
                let mut bytes = ok_head("");
                bytes.extend(content);
                (bytes, Ending::Close)
            }
            Fault::AfterBody => {
                let mut bytes = ok_head(&length);
                bytes.extend(content);
                bytes.extend(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: image/gif\r\ncontent-length: {}\r\n\r\n",
                        PIXEL_GIF.len()
                    )
                    .as_bytes(),
                );
                bytes.extend(PIXEL_GIF);
                (bytes, Ending::Close)
            }
            Fault::FoldedHead => {
                let folded = "x-folded: a header on\r\n two lines\r\n";
                let mut bytes = ok_head(&format!("{folded}{length}"));
                bytes.extend(content);
                (bytes, Ending::Close)
            }
            Fault::Reset => (ok_head(&length), Ending::Reset),
            _ => return Err(in_flight),
        };
        in_flight.set_fault(fault.name());
        in_flight.set_status(200);
        Ok(Handover(Mutex::new(Some(RawAnswer {
            bytes,
            ending,
            in_flight,
        }))))
    }

    /// Writes the answer to `stream` and ends the connection, as the
    /// fault says; a shutdown cuts it short.
    pub(super) async fn write_to<S: RawStream>(
        self,
        mut stream: S,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let RawAnswer {
            bytes,
            ending,
            in_flight,
        } = self;
        let answered = async {
            stream.write_all(&bytes).await?;
            stream.flush().await?;
            match ending {
                // FIN (after TLS's close_notify): the end of a body that
                // has no length.
                Ending::Close => stream.shutdown().await,
                Ending::Reset => {
                    tokio::time::sleep(RESET_PAUSE).await;
                    // With a zero linger, closing the socket (dropping
                    // `stream`, below) sends RST instead of FIN.
                    stream.tcp().set_zero_linger()
                }
            }
        };
        // A client that reads nothing could hold the writes for ever: a
        // shutdown ends them. Errors (the client gone) end them too, and
        // are the client's business.
        tokio::select! {
            _ = answered => {}
            () = stopped(&mut shutdown) => {}
        }
        drop(stream);
        // The request is done once its connection is.
        drop(in_flight);
    }
}

/// One chunk of a chunked body: its size in hexadecimal, the bytes, CRLF.
/// (An empty piece would be the last chunk: none is made here.)
fn chunk(piece: &[u8]) -> Vec<u8> {
    if piece.is_empty() {
        return Vec::new();
    }
    let mut bytes = format!("{:x}\r\n", piece.len()).into_bytes();
    bytes.extend(piece);
    bytes.extend(b"\r\n");
    bytes
}
