//! The null transform on the easy layer: the template to copy.
use plugin_sdk::{declare_plugin, Chunk, Hooks, Output, Plugin, StreamTransform, Txn};
pub struct Null;
impl StreamTransform for Null {
    fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
        out.pass(chunk); // shares the input's blocks: no copy
    }
    fn output_len(&self, input_len: Option<u64>) -> Option<u64> {
        input_len // same length out: the client keeps its Content-Length
    }
}

pub struct NullStream;
impl Plugin for NullStream {
    fn init(_args: &[String]) -> Result<Self, String> {
        Ok(NullStream)
    }
    fn hooks(&self) -> Hooks {
        Hooks::READ_RESPONSE_HEADERS
    }
    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        let _ = txn.add_response_stream(Null); // refused only when there is no body
    }
}
declare_plugin!(NullStream);
