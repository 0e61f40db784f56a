//! Replacing a whole message from a transform, and why the host refuses a
//! request.
//!
//! A transform that holds its output (it has not started writing to its
//! output vconnection, so the message head has not left) may decide, having
//! seen the body, to send something else instead: a [`Message`] with a
//! status, header fields and a short body. On a response, the client gets
//! it instead of the origin's response. On a request, the client gets it as
//! the response, and the origin never sees the request. See
//! [`TransformCx::replace`](crate::TransformCx::replace) and, on the easy
//! layer, [`Output::replace`](crate::Output::replace).
//!
//! ```
//! use plugin_sdk::Message;
//! let page = Message::new(403).header("content-type", "text/plain").body("blocked\n");
//! assert_eq!(page.status, 403);
//! ```

/// A message that replaces the one a chain carries. The host frames it:
/// it sets `Content-Length` from the body and removes any framing fields
/// given here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// A final status, 200 to 599.
    pub status: u16,
    /// Header fields, in order.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Message {
    /// A message with `status`, no fields and an empty body.
    pub fn new(status: u16) -> Self {
        Message { status, headers: Vec::new(), body: Vec::new() }
    }

    /// Adds a header field.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// Why the host refused to add a transform or to replace a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The message has no body (HEAD, 204, 304, a request without one):
    /// a transform would never run. Header edits made in the hook still apply.
    NoBody,
    /// Too late: a request transform after the request hook, a transform
    /// from `send_response_headers`, or a replacement after the head left.
    TooLate,
    /// An argument the host does not accept (a status outside 200..=599, a
    /// header field that is not a valid token or value).
    Invalid,
    /// Any other refusal, with the host's status code.
    Other(i32),
}

impl Refused {
    /// The refusal a host status stands for; `None` for success.
    pub(crate) fn from_status(status: i32) -> Option<Refused> {
        use crate::ffi::{STATUS_BAD_ARG, STATUS_NO_BODY, STATUS_OK, STATUS_TOO_LATE};
        match status {
            STATUS_OK => None,
            STATUS_NO_BODY => Some(Refused::NoBody),
            STATUS_TOO_LATE => Some(Refused::TooLate),
            STATUS_BAD_ARG => Some(Refused::Invalid),
            other => Some(Refused::Other(other)),
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::NoBody => f.write_str("the message has no body"),
            Refused::TooLate => f.write_str("too late in the transaction"),
            Refused::Invalid => f.write_str("an argument the host does not accept"),
            Refused::Other(s) => write!(f, "refused by the host (status {s})"),
        }
    }
}
