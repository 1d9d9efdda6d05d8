//! Axon: the content-addressed blob store of Synapse (`synapse.axon`), wire-compatible with
//! the reference 2.256.
//!
//! * [`Axon`]: the store. Blobs are named by their sha256 ([`Sha256`]), uploaded through an
//!   [`Upload`] (hashed and spooled as the bytes come, off the async runtime), read back as
//!   streams of chunks (whole or a byte range), listed in add order ([`Axon::hashes`]) or by
//!   time ([`Axon::history`]), counted ([`Axon::metrics`]) and deleted. Memory stays bounded
//!   whatever the blob size; a blob reported saved survives a crash of the process.
//! * [`AxonService`]: the Axon as a cell service (`synapse-servers axon`): the reference's
//!   `AxonApi` telepath methods with their permissions (`axon.get`, `axon.has`,
//!   `axon.upload`, `axon.del`, `axon.wget`, `axon.wput`), the upload share, and the HTTPS
//!   routes under `/api/v1/axon/files/`.
//! * The HTTP transfers `wget` (a URL's body streamed into a blob), `wput` (a blob streamed
//!   as a request body) and `postfiles` (blobs and values as a `multipart/form-data` form),
//!   over [`synapse_cell::httpc`], with the reference's arguments and result dicts.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synapse_axon::Error> {
//! use futures::TryStreamExt;
//! use synapse_axon::{Axon, AxonOptions, Sha256};
//!
//! let dir = tempfile::tempdir().map_err(|err| synapse_axon::Error::bad_arg(err.to_string()))?;
//! let axon = Axon::open(dir.path(), AxonOptions::default()).await?;
//!
//! let (size, sha256) = axon.put(b"asdfasdf".to_vec()).await?;
//! assert_eq!((size, sha256), (8, Sha256::of(b"asdfasdf")));
//!
//! let mut upload = axon.upload();
//! upload.write(b"part1".to_vec()).await?;
//! upload.write(b"part2".to_vec()).await?;
//! assert_eq!(upload.save().await?, (10, Sha256::of(b"part1part2")));
//!
//! let chunks: Vec<Vec<u8>> = axon.get(&sha256, Some((2, 3))).await?.try_collect().await?;
//! assert_eq!(chunks, vec![b"dfa".to_vec()]);
//! assert_eq!(axon.metrics().file_count, 2);
//! axon.fini().await;
//! # Ok(())
//! # }
//! ```

mod axon;
mod csv;
mod error;
mod hash;
mod http;
mod service;
mod spool;
mod text;
mod unpack;
mod upload;
mod wget;

pub use crate::axon::{Axon, AxonOptions, BlobReader, CHUNK_SIZE, HashRow, Metrics};
pub use crate::error::{Error, Result};
pub use crate::hash::{HashSet, Sha256};
pub use crate::service::{AXON_METHODS, AxonService};
pub use crate::unpack::MAX_UNPACK;
pub use crate::upload::Upload;
