//! Base: the lifecycle every Synapse runtime object shares.
//!
//! A [`Base`] is a cheap, clonable handle on one node of a teardown tree. It provides:
//!
//! * **async construction** with cleanup on failure ([`Base::anit`]);
//! * **teardown** ([`Base::fini`]) that runs exactly once: owned children first, then every
//!   managed task is cancelled and awaited, then the registered teardown handlers run in
//!   reverse order of registration; shared ownership through [`Base::incref`] means the last
//!   holder's `fini` is the one that tears down;
//! * an **event bus**: handlers by event name, links that see every event, [`Waiter`]s that
//!   collect events with a timeout, and [`Base::wait_fini`];
//! * **managed tasks** ([`Base::spawn`]): futures owned by the object, cancelled and awaited at
//!   teardown; a task started after teardown is refused with [`IsFini`]. A [`TaskRegistry`]
//!   lists and cancels named tasks (the Cell's Boss is built on it).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synapse_base::IsFini> {
//! use synapse_base::Base;
//!
//! let base = Base::new();
//! let child = base.child();
//! child.on_fini(|| async { println!("child torn down") });
//! base.spawn(async { std::future::pending::<()>().await })?;
//! base.fini().await; // tears down the child, cancels the task
//! assert!(child.is_fini());
//! # Ok(())
//! # }
//! ```

mod base;
mod baseref;
mod event;
pub mod process;
pub mod spin;
mod task;
mod util;

pub use crate::base::{Base, IsFini};
pub use crate::baseref::BaseRef;
pub use crate::event::{Event, HandlerId, TimeOut, Waiter};
pub use crate::task::{Task, TaskInfo, TaskRegistry, TaskSpec};
pub use crate::util::{guid, now_ms};
