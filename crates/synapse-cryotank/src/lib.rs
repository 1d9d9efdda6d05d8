//! Cryotank: named, append-only tanks of msgpack records, served as the reference's
//! `synapse.cryotank.CryoCell`.
//!
//! * [`CryoCell`] is the [`synapse_cell::Service`]: it hosts named tanks, created on first
//!   use (`cryo.tank.add` on the gate `cryo`), listed and deleted, and serves the reference's
//!   telepath APIs: `CryoApi` at the shares `*` and `cryotank` (`init`, `list`, `puts`,
//!   `slice`, `rows`, `last`, `metrics`, `delete`) and [`TankApi`] at `cryotank/<name>`
//!   (`puts`, `slice`, `metrics`, `iden`), with the reference's permission checks.
//! * [`Tank`] is one log: dense offsets from 0, records stored as the reference's msgpack, a
//!   metrics row per chunk of 1000 records. A `puts` is acknowledged only once the commit
//!   holding it is done (group commit), so an acknowledged record survives a crash of the
//!   process; readers see committed records only.
//! * [`CryoClient`] / [`TankClient`] are typed telepath clients (used by `synapse-tools cryo`).
//!
//! ```
//! use futures::TryStreamExt;
//! use synapse_cryotank::{SliceOpts, Tank, TankConf};
//! use synapse_telepath::Value;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synapse_cryotank::Error> {
//! # let dir = tempfile::tempdir().map_err(|e| synapse_cryotank::Error::BadArg(e.to_string()))?;
//! let tank = Tank::open("logs", &synapse_base::guid(), &dir.path().join("logs"), &TankConf::default()).await?;
//! assert_eq!(tank.puts(vec![Value::from("a"), Value::from("b")]).await?, 2);
//! let rows: Vec<(u64, Value)> = tank.slice(1, SliceOpts::default()).try_collect().await?;
//! assert_eq!(rows, vec![(1, Value::from("b"))]);
//! tank.fini().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod args;
mod client;
mod cryo;
mod error;
mod log;
mod record;
mod tank;

pub use crate::api::TankApi;
pub use crate::args::MAX_NAME_LEN;
pub use crate::client::{CryoClient, RowStream, TankClient};
pub use crate::cryo::{CRYO_GATE, CRYOTANK_VERSION, CryoCell, NAMES_DB, TANK_GATE_TYPE};
pub use crate::error::{Error, Result};
pub use crate::record::MAX_RECORD_DEPTH;
pub use crate::tank::{Metrics, PUTS_CHUNK, SliceOpts, Tank, TankConf, TankInfo};
