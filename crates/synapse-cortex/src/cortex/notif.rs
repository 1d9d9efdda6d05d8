//! User notifications, as the reference's JSON store keeps them for its Cortex: messages
//! `(useriden, time, mesgtype, mesgdata)` in a sequence (`notifs` in `slabs/cortex.lmdb`), with
//! an index by user, type and time (`notifs:user:type`) that `iterUserNotifs` walks backward.
//! The admin-only CoreApi methods `addUserNotif`, `getUserNotif`, `delUserNotif`,
//! `iterUserNotifs` and `watchAllUserNotifs` are answered here ([`api_call`]).
//!
//! One difference: a notification's index is its place in the sequence (0, 1, ...), where the
//! reference uses the Nexus offset of the change that added it.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use rmpv::Value;
use synapse_cell::{ArgDefault as D, Args, Error, MethDef, Reply, Result, Session};
use synapse_slab::{Db, DbOptions, NameAbrv, Scan, Seqn, Slab};

use super::Cortex;

/// How long `watchAllUserNotifs` waits for a new notification before it ends (the
/// reference's).
const WATCH_TIMEOUT: Duration = Duration::from_secs(120);

/// The CoreApi methods of this module.
pub const NOTIF_API_METHODS: &[MethDef] = &[
    MethDef::call("addUserNotif"),
    MethDef::call("delUserNotif"),
    MethDef::call("getUserNotif"),
    MethDef::genr("iterUserNotifs"),
    MethDef::genr("watchAllUserNotifs"),
];

fn slab_error(err: synapse_slab::Error) -> Error {
    Error::storage(err.to_string()).with_source(err)
}

/// The notification databases of a Cortex.
pub(crate) struct Notifs {
    slab: Slab,
    seqn: Seqn,
    types: NameAbrv,
    by_user_type: Db,
}

impl Notifs {
    pub(crate) async fn open(slab: &Slab) -> Result<Notifs> {
        let seqn = Seqn::open(slab, "notifs").await.map_err(slab_error)?;
        let types = NameAbrv::open(slab, "notifs:types")
            .await
            .map_err(slab_error)?;
        let by_user_type = slab
            .initdb("notifs:user:type", DbOptions::default())
            .await
            .map_err(slab_error)?;
        Ok(Notifs {
            slab: slab.clone(),
            seqn,
            types,
            by_user_type,
        })
    }
}

/// The 16 bytes of a user iden.
fn user_bytes(useriden: &str) -> Result<Vec<u8>> {
    match hex::decode(useriden) {
        Ok(byts) if byts.len() == 16 => Ok(byts),
        _ => Err(Error::bad_arg(format!("Invalid user iden: {useriden}")).with("iden", useriden)),
    }
}

/// The index key of a notification: user, type abbreviation, time, index.
fn index_key(user: &[u8], abrv: &[u8; 8], time: i64, indx: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(40);
    key.extend_from_slice(user);
    key.extend_from_slice(abrv);
    key.extend_from_slice(&(time as u64).to_be_bytes());
    key.extend_from_slice(&indx.to_be_bytes());
    key
}

/// `(useriden, time, mesgtype)` of a stored message.
fn mesg_parts(mesg: &Value) -> Option<(&str, i64, &str)> {
    let parts = mesg.as_array()?;
    Some((
        parts.first()?.as_str()?,
        parts.get(1)?.as_i64()?,
        parts.get(2)?.as_str()?,
    ))
}

impl Cortex {
    /// `addUserNotif`: store a notification for a user; its index.
    pub async fn add_user_notif(
        &self,
        useriden: &str,
        mesgtype: &str,
        mesgdata: Value,
    ) -> Result<u64> {
        let user = user_bytes(useriden)?;
        let time = synapse_base::now_ms();
        let mesg = Value::Array(vec![
            Value::from(useriden),
            Value::from(time),
            Value::from(mesgtype),
            mesgdata,
        ]);
        let notifs = &self.notifs;
        let (seqn, types, db) = (
            notifs.seqn.clone(),
            notifs.types.clone(),
            notifs.by_user_type,
        );
        let mesgtype = mesgtype.as_bytes().to_vec();
        notifs
            .slab
            .write_commit(move |txn| {
                let indx = seqn.add_in(txn, &mesg, None)?;
                let abrv = types.set_byts_to_abrv_in(txn, &mesgtype)?;
                txn.put(db, &index_key(&user, &abrv, time, indx), b"")?;
                Ok::<_, synapse_slab::Error>(indx)
            })
            .await
            .map_err(slab_error)
    }

    /// `getUserNotif`: the message `(useriden, time, mesgtype, mesgdata)` at `indx`.
    pub async fn get_user_notif(&self, indx: u64) -> Result<Option<Value>> {
        self.notifs.seqn.get(indx).await.map_err(slab_error)
    }

    /// `delUserNotif`: remove the notification at `indx` (nothing if there is none).
    pub async fn del_user_notif(&self, indx: u64) -> Result<()> {
        let notifs = &self.notifs;
        let (seqn, types, db) = (
            notifs.seqn.clone(),
            notifs.types.clone(),
            notifs.by_user_type,
        );
        notifs
            .slab
            .write_commit(move |txn| {
                let Some((_, mesg)) = seqn.pop_in(txn, indx)? else {
                    return Ok::<_, synapse_slab::Error>(());
                };
                if let Some((useriden, time, mesgtype)) = mesg_parts(&mesg)
                    && let Ok(user) = hex::decode(useriden)
                {
                    let abrv = types.set_byts_to_abrv_in(txn, mesgtype.as_bytes())?;
                    txn.delete(db, &index_key(&user, &abrv, time, indx), None)?;
                }
                Ok(())
            })
            .await
            .map_err(slab_error)
    }

    /// `iterUserNotifs`: `(indx, mesg)` of a user's notifications, walking the index by type
    /// and time backward as the reference (newest first within a type), at most `size`.
    pub async fn user_notifs(
        &self,
        useriden: &str,
        size: Option<usize>,
    ) -> Result<Vec<(u64, Value)>> {
        let user = user_bytes(useriden)?;
        let notifs = &self.notifs;
        let mut keys = notifs
            .slab
            .scan_keys(notifs.by_user_type, Scan::prefix(&user).back());
        let mut out = Vec::new();
        while let Some(key) = keys.try_next().await.map_err(slab_error)? {
            if size.is_some_and(|size| out.len() >= size) {
                break;
            }
            let Some(tail) = key.get(32..40) else {
                continue;
            };
            let mut byts = [0u8; 8];
            byts.copy_from_slice(tail);
            let indx = u64::from_be_bytes(byts);
            if let Some(mesg) = notifs.seqn.get(indx).await.map_err(slab_error)? {
                out.push((indx, mesg));
            }
        }
        Ok(out)
    }

    /// `watchAllUserNotifs`: `(indx, mesg)` of new notifications from `offs` (the next one
    /// by default), ending after two minutes without one.
    pub fn watch_user_notifs(
        &self,
        offs: Option<u64>,
    ) -> futures::stream::BoxStream<'static, Result<(u64, Value)>> {
        let seqn = &self.notifs.seqn;
        let offs = offs.unwrap_or_else(|| seqn.index());
        seqn.follow(offs, true, Some(WATCH_TIMEOUT))
            .map(|item| item.map_err(slab_error))
            .boxed()
    }
}

fn text_value(valu: &Value, name: &str) -> Result<String> {
    valu.as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::bad_arg(format!("{name} must be a string")).with("name", name))
}

/// A generator reply whose setup may fail: the error comes as its first item.
fn genr_reply<F>(setup: F) -> Reply
where
    F: std::future::Future<Output = Result<futures::stream::BoxStream<'static, Result<Value>>>>
        + Send
        + 'static,
{
    Reply::Genr(
        futures::stream::once(setup)
            .map(|res| match res {
                Ok(items) => items,
                Err(err) => futures::stream::once(async move { Err(err) }).boxed(),
            })
            .flatten()
            .boxed(),
    )
}

fn pair(indx: u64, mesg: Value) -> Value {
    Value::Array(vec![Value::from(indx), mesg])
}

fn indx_arg(valu: &Value) -> Result<u64> {
    valu.as_u64()
        .ok_or_else(|| Error::bad_arg("indx must be a non-negative integer"))
}

/// Answer one of this module's CoreApi methods (admin only, as the reference's).
pub(crate) fn api_call<'a>(
    core: &Arc<Cortex>,
    sess: &'a Session,
    meth: &str,
    args: Args,
) -> Option<BoxFuture<'a, Result<Reply>>> {
    let core = Arc::clone(core);
    Some(match meth {
        "addUserNotif" => Box::pin(async move {
            let mut bound = args.bind(
                "addUserNotif",
                &[
                    ("useriden", D::Required),
                    ("mesgtype", D::Required),
                    ("mesgdata", D::Nil),
                ],
            )?;
            sess.req_admin()?;
            let useriden = text_value(bound.value(0), "useriden")?;
            let mesgtype = text_value(bound.value(1), "mesgtype")?;
            let indx = core
                .add_user_notif(&useriden, &mesgtype, bound.take(2))
                .await?;
            Ok(Reply::Value(Value::from(indx)))
        }),
        "getUserNotif" => Box::pin(async move {
            let bound = args.bind("getUserNotif", &[("indx", D::Required)])?;
            sess.req_admin()?;
            let mesg = core.get_user_notif(indx_arg(bound.value(0))?).await?;
            Ok(Reply::Value(mesg.unwrap_or(Value::Nil)))
        }),
        "delUserNotif" => Box::pin(async move {
            let bound = args.bind("delUserNotif", &[("indx", D::Required)])?;
            sess.req_admin()?;
            core.del_user_notif(indx_arg(bound.value(0))?).await?;
            Ok(Reply::Value(Value::Nil))
        }),
        "iterUserNotifs" => Box::pin(async move {
            let bound = args.bind(
                "iterUserNotifs",
                &[("useriden", D::Required), ("size", D::Nil)],
            )?;
            let useriden = text_value(bound.value(0), "useriden");
            let size = bound.opt_int(1, "size");
            let allowed = sess.req_admin().map(|_| ());
            let items = async move {
                allowed?;
                let size = size?.map(|size| usize::try_from(size).unwrap_or_default());
                let items = core.user_notifs(&useriden?, size).await?;
                Ok(futures::stream::iter(
                    items.into_iter().map(|(indx, mesg)| Ok(pair(indx, mesg))),
                )
                .boxed())
            };
            Ok(genr_reply(items))
        }),
        "watchAllUserNotifs" => Box::pin(async move {
            let bound = args.bind("watchAllUserNotifs", &[("offs", D::Nil)])?;
            let offs = match bound.value(0) {
                Value::Nil => Ok(None),
                other => indx_arg(other).map(Some),
            };
            let allowed = sess.req_admin().map(|_| ());
            let items = async move {
                allowed?;
                let offs = offs?;
                Ok(core
                    .watch_user_notifs(offs)
                    .map(|item| item.map(|(indx, mesg)| pair(indx, mesg)))
                    .boxed())
            };
            Ok(genr_reply(items))
        }),
        _ => return None,
    })
}
