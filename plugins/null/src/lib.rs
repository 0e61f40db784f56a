//! The null transform: passes body bytes through unchanged. It is the
//! reference for the VIO protocol, written on the raw layer the way Traffic
//! Server's `null_transform.c` is, one primitive per step.
//!
//! Arguments (see `README.md`): none = transform responses and request
//! bodies; `response` or `request` = only that direction.

use plugin_sdk::{declare_plugin, Closed, Event, Hooks, Plugin, Transform, TransformCx, Txn, VioId};

/// Which bodies the plugin transforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NullPlugin {
    request: bool,
    response: bool,
}

impl Plugin for NullPlugin {
    fn init(args: &[String]) -> Result<Self, String> {
        let (mut request, mut response) = (args.is_empty(), args.is_empty());
        for arg in args {
            match arg.as_str() {
                "request" => request = true,
                "response" => response = true,
                other => {
                    return Err(format!(
                        "unknown argument {other:?}: null takes no arguments (both directions), `request` or `response`"
                    ))
                }
            }
        }
        Ok(NullPlugin { request, response })
    }

    fn hooks(&self) -> Hooks {
        // Only the hooks of the directions it transforms: the host skips the rest.
        let mut hooks = Hooks::NONE;
        if self.request {
            hooks = hooks | Hooks::READ_REQUEST_HEADERS;
        }
        if self.response {
            hooks = hooks | Hooks::READ_RESPONSE_HEADERS;
        }
        hooks
    }

    fn read_request_headers(&self, txn: &mut Txn<'_>) {
        if self.request && txn.request_body().exists() {
            // Cannot be refused: the request has a body and this is its hook.
            let _ = txn.add_request_transform(NullTransform::default());
        }
    }

    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        // Refused (and dropped) when the response has no body: nothing to pass on.
        if self.response && txn.response_body().exists() {
            let _ = txn.add_response_transform(NullTransform::default());
        }
    }
}

declare_plugin!(NullPlugin);

/// One null transform instance.
#[derive(Default)]
pub struct NullTransform {
    /// The write VIO on our output vconnection, once started.
    output: Option<VioId>,
}

impl Transform for NullTransform {
    fn on_event(&mut self, cx: &mut TransformCx<'_>, event: Event) {
        // Once closed, the host destroys us as soon as we return.
        if cx.this().closed() != Closed::Open {
            return;
        }
        match event {
            // Pass errors to whoever writes into us.
            Event::Error => {
                if let Some(input) = cx.input_vio() {
                    input.call_cont(Event::Error);
                }
            }
            // The output took every byte: we do not want to hear about it any more.
            Event::VConnWriteComplete => cx.output_vconn().shutdown(false, true),
            // WRITE_READY, or IMMEDIATE after a reenable: try to move data.
            _ => self.handle_transform(cx),
        }
    }
}

impl NullTransform {
    fn handle_transform(&mut self, cx: &TransformCx<'_>) {
        let Some(input) = cx.input_vio() else { return };
        // First event: create the output buffer and start writing downstream,
        // announcing the input's length (or "unknown").
        let output = match self.output {
            Some(id) => cx.vio(id),
            None => {
                let buffer = cx.new_buffer();
                let reader = buffer.alloc_reader();
                let vio = cx.output_vconn().write(&reader, input.nbytes());
                self.output = Some(vio.id());
                vio
            }
        };

        // No buffer: the upstream shut its write down; what we passed is all.
        let Some(out_buffer) = output.buffer() else {
            return;
        };
        let Some(in_reader) = input.reader() else {
            output.set_nbytes(input.ndone());
            output.reenable();
            return;
        };

        // Copy what is there (no more than the VIO still expects), consume
        // it from the input, and account for it.
        let towrite = input.ntodo().min(in_reader.avail());
        if towrite > 0 {
            out_buffer.copy_from(&in_reader, towrite, 0);
            in_reader.consume(towrite);
            input.set_ndone(input.ndone() + towrite);
        }

        if input.ntodo() > 0 {
            if towrite > 0 {
                // Wake the output, and ask the upstream for more.
                output.reenable();
                input.call_cont(Event::VConnWriteReady);
            }
        } else {
            // All input passed: tell the output its final length, wake it,
            // and tell the upstream we are done with its write.
            output.set_nbytes(input.ndone());
            output.reenable();
            input.call_cont(Event::VConnWriteComplete);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_sdk::testing::FakeHost;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 253) as u8).collect()
    }

    #[test]
    fn passes_bytes_unchanged_with_the_input_length() {
        let data = pattern(5000);
        for piece in [1, 7, 64, 5000] {
            let chunks: Vec<&[u8]> = data.chunks(piece).collect();
            let out = FakeHost::new().run(NullTransform::default(), &chunks);
            assert_eq!(out.bytes, data, "pieces of {piece}");
            assert_eq!(out.nbytes, Some(5000));
            assert!(out.complete && out.errors.is_empty(), "{out:?}");
            assert!(out.write_ready > 0);
        }
    }

    #[test]
    fn unknown_length_and_empty_input() {
        let out = FakeHost::new().unknown_length().run(NullTransform::default(), &[b"ab", b"", b"cde"]);
        assert_eq!(out.bytes, b"abcde");
        assert_eq!(out.nbytes, None);
        assert!(out.complete && out.errors.is_empty(), "{out:?}");
        let out = FakeHost::new().run(NullTransform::default(), &[]);
        assert!(out.bytes.is_empty() && out.complete, "{out:?}");
    }

    #[test]
    fn arguments_select_directions() {
        let both = NullPlugin::init(&[]).expect("no args is valid");
        assert_eq!(both, NullPlugin { request: true, response: true });
        let resp = NullPlugin::init(&["response".to_string()]).expect("response is valid");
        assert_eq!(resp, NullPlugin { request: false, response: true });
        assert_eq!(both.hooks(), Hooks::READ_REQUEST_HEADERS | Hooks::READ_RESPONSE_HEADERS);
        assert_eq!(resp.hooks(), Hooks::READ_RESPONSE_HEADERS);
        let err = NullPlugin::init(&["gzip".to_string()]).expect_err("unknown arg is refused");
        assert!(err.contains("\"gzip\""), "{err}");
    }
}
