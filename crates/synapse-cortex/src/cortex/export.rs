//! `exportStormToAxon`: a Storm export (the podes of `exportStorm`, with the edges between
//! exported nodes) written as a msgpack `.nodes` stream into the Cortex's Axon, the file the
//! `syn.nodes` feed (`feedFromAxon`, `$lib.feed.fromAxon`) reads back.

use std::sync::Arc;

use futures::StreamExt;
use rmpv::Value;
use synapse_cell::{Args, Error, Reply, Result};

use super::{AXON_READY_TIMEOUT, Cortex, StormCall};

/// Bytes buffered before one `write` to the Axon upload (the reference writes each pode).
const WRITE_CHUNK: usize = 1 << 20;

impl Cortex {
    /// `exportStormToAxon(text, opts)`: run `call` as an export and save the packed nodes,
    /// back to back, in the Axon; `(size, sha256 hex)` of the saved file. An error of the
    /// query ends the export before anything is saved.
    pub async fn export_storm_to_axon(self: &Arc<Self>, call: StormCall) -> Result<(u64, String)> {
        let axon = self.axon(Some(AXON_READY_TIMEOUT)).await?;
        let runtime = self.req_storm()?;
        let upload = match axon.call("upload", Args::default()).await? {
            Reply::Share(share) => share,
            _ => return Err(Error::bad_arg("the Axon's upload did not return a share")),
        };
        let mut podes = runtime.export_storm(Arc::clone(self), call);
        let mut buf = Vec::new();
        while let Some(pode) = podes.next().await {
            buf.extend(crate::model::packb(&pode?));
            if buf.len() >= WRITE_CHUNK {
                let chunk = Value::Binary(std::mem::take(&mut buf));
                upload.call("write", Args::positional(vec![chunk])).await?;
            }
        }
        if !buf.is_empty() {
            upload
                .call("write", Args::positional(vec![Value::Binary(buf)]))
                .await?;
        }
        let saved = match upload.call("save", Args::default()).await? {
            Reply::Value(saved) => saved,
            _ => return Err(Error::bad_arg("the Axon's upload save returned no value")),
        };
        let parts = saved.as_array().map(Vec::as_slice).unwrap_or_default();
        match parts {
            [size, Value::Binary(sha256)] => {
                Ok((size.as_u64().unwrap_or_default(), hex::encode(sha256)))
            }
            [size, Value::String(sha256)] => Ok((
                size.as_u64().unwrap_or_default(),
                sha256.as_str().unwrap_or_default().to_owned(),
            )),
            _ => Err(Error::bad_arg(
                "the Axon's upload save did not return (size, sha256)",
            )),
        }
    }
}
