//! Cell: the batteries-included Synapse service.

mod auth;
mod config;
mod error;
mod passwd;
mod store;
mod util;
mod value;

pub use crate::auth::{
    ApiKeyDef, Auth, AuthEvent, AuthOptions, GateDef, GateEntry, KeyVals, PackRoles, Policy,
    Role, RoleDef, Rule, User, UserDef, norm_email,
};
pub use crate::config::{
    CmdlineOpt, ConfDef, ConfType, Config, OptKind, Schema, base_confdefs, env_name, env_prefix,
    parse_opt, yaml_scalar,
};
pub use crate::error::{ErrKind, Error, Result};
pub use crate::passwd::{Shadow, StoredPasswd, check_shadow, make_shadow};
pub use crate::store::{MemStore, Rows, Store, StoreOp};
pub use crate::value::{ArgDefault, Args, Bound, Param, from_json, guid_of, to_json};
