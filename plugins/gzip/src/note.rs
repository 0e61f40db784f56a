//! Carrying the request half's verdict to the response hook.
//!
//! Today's SDK has no per-transaction state, so the verdict rides in a
//! request field of the plugin's own that the request's `Connection` field
//! names: a proxy removes the fields `Connection` lists before forwarding
//! (RFC 9110 section 7.6.1), so the origin never sees it, while the response
//! hook still reads it from the request head as the plugins left it. A
//! client cannot plant a verdict: the request hook always overwrites it.

use crate::fields::Fields;
use crate::negotiate::Coding;
use crate::rules::Verdict;
use crate::stats::Skip;

/// The field's name.
pub const NOTE: &str = "X-Plugin-Gzip-Verdict";

/// Records `verdict` on the request.
pub fn write(req: &mut impl Fields, verdict: Verdict) {
    let value = match verdict {
        Ok(coding) => coding.name(),
        Err(why) => match why {
            Skip::Range => "-range",
            Skip::NotAccepted => "-not-accepted",
            Skip::NoTransform => "-no-transform",
            _ => "-disabled",
        },
    };
    req.set(NOTE, value.as_bytes());
    let connection = req.elements("connection");
    if !connection.iter().any(|t| t.eq_ignore_ascii_case(NOTE)) {
        let mut tokens = connection;
        tokens.push(NOTE.to_string());
        req.set("Connection", tokens.join(", ").as_bytes());
    }
}

/// The verdict recorded on the request; none recorded counts as disabled.
pub fn read(req: &impl Fields) -> Verdict {
    match req.text(NOTE).as_deref() {
        Some("-range") => Err(Skip::Range),
        Some("-not-accepted") => Err(Skip::NotAccepted),
        Some("-no-transform") => Err(Skip::NoTransform),
        Some(name) => Coding::from_name(name).ok_or(Skip::Disabled),
        None => Err(Skip::Disabled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::FieldList;

    #[test]
    fn verdicts_round_trip_and_the_field_is_hop_by_hop() {
        let verdicts = [
            Ok(Coding::Gzip),
            Ok(Coding::Zstd),
            Err(Skip::Range),
            Err(Skip::NotAccepted),
            Err(Skip::NoTransform),
            Err(Skip::Disabled),
        ];
        for v in verdicts {
            let mut req = FieldList::of(&[("Connection", "keep-alive")]);
            write(&mut req, v);
            assert_eq!(read(&req), v);
            assert_eq!(req.text("connection").as_deref(), Some("keep-alive, X-Plugin-Gzip-Verdict"));
            write(&mut req, v);
            assert_eq!(req.elements("connection").len(), 2, "named once");
        }
        assert_eq!(read(&FieldList::default()), Err(Skip::Disabled));
        assert_eq!(read(&FieldList::of(&[(NOTE, "lzma")])), Err(Skip::Disabled));
    }
}
