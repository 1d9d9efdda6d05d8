//! The Storm package methods of the CoreApi: `addStormPkg` / `delStormPkg` (permissions
//! `pkg.add` / `pkg.del`), `getStormPkg` / `getStormPkgs` (admins).

use std::sync::Arc;

use rmpv::Value;
use synapse_cell::{ArgDefault as D, Args, Reply, Result, Session};

use super::{perm, text_arg};
use crate::cortex::Cortex;

impl Cortex {
    pub(super) async fn api_add_storm_pkg(
        self: Arc<Self>,
        sess: &Session,
        args: Args,
    ) -> Result<Reply> {
        let mut bound = args.bind(
            "addStormPkg",
            &[("pkgdef", D::Required), ("verify", D::Bool(false))],
        )?;
        sess.confirm(&perm(&["pkg", "add"]), None, None)?;
        let verify = bound.truthy(1);
        let pkgdef = bound.take(0);
        self.add_storm_pkg(pkgdef, verify).await?;
        Ok(Reply::Value(Value::Nil))
    }

    pub(super) async fn api_del_storm_pkg(
        self: Arc<Self>,
        sess: &Session,
        args: Args,
    ) -> Result<Reply> {
        let bound = args.bind("delStormPkg", &[("iden", D::Required)])?;
        sess.confirm(&perm(&["pkg", "del"]), None, None)?;
        let name = text_arg(bound.value(0), "iden")?;
        self.del_storm_pkg(&name).await?;
        Ok(Reply::Value(Value::Nil))
    }

    pub(super) async fn api_get_storm_pkg(
        self: Arc<Self>,
        sess: &Session,
        args: Args,
    ) -> Result<Reply> {
        let bound = args.bind("getStormPkg", &[("name", D::Required)])?;
        sess.req_admin()?;
        let name = bound.value(0).as_str().unwrap_or_default().to_owned();
        Ok(Reply::Value(self.storm_pkg(&name).unwrap_or(Value::Nil)))
    }

    pub(super) async fn api_get_storm_pkgs(
        self: Arc<Self>,
        sess: &Session,
        args: Args,
    ) -> Result<Reply> {
        args.bind("getStormPkgs", &[])?;
        sess.req_admin()?;
        Ok(Reply::Value(Value::Array(self.storm_pkgs())))
    }
}
