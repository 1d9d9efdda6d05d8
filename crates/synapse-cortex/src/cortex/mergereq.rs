//! Merge requests and votes of forked views, and the view rearrangements around them
//! (`detach`, `insertParentFork`, `insertChildFork`, `swapLayer`, deleting a view with its
//! write layer).
//!
//! A view whose parent has a `quorum` (`{"count": n, "roles": [roleiden, ...]}`) merges only
//! through a merge request: members of the quorum roles vote on it, and once `count` votes
//! approve the fork's current edit offset (and none disapprove) the fork's write layer becomes
//! read-only and is merged into the parent in the background, after which the fork and its
//! layer are deleted. Requests, votes and the parent's merge history live in the `view:meta`
//! database of `cortex.lmdb`, keyed as the reference keys them (view iden bytes, then
//! `merge:req`, `merge:vote` + user iden bytes, `hist:merge:iden` + merge iden bytes,
//! `hist:merge:time` + big-endian time + merge iden bytes).

use std::sync::Arc;

use futures::TryStreamExt;
use rmpv::Value;
use synapse_cell::{ErrKind, Error, Result, Rule};
use synapse_slab::{Db, DbOptions, Scan, Slab};

use super::{Cortex, view_error};
use crate::layer::{LayerDef, map_get};
use crate::nodeedit::{EditMeta, NodeEdit, packb, unpackb};
use crate::view::{View, ViewDef};

/// Nodeedits applied per batch when merging (the reference's).
const MERGE_CHUNK: usize = 5;

fn slab_error(err: synapse_slab::Error) -> Error {
    Error::storage(err.to_string()).with_source(err)
}

fn bad_state(mesg: impl Into<String>) -> Error {
    Error::named("BadState", mesg)
}

/// The 16 bytes of a 32 hex char iden (other text as is).
fn bidn(iden: &str) -> Vec<u8> {
    hex::decode(iden).unwrap_or_else(|_| iden.as_bytes().to_vec())
}

fn key(iden: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = bidn(iden);
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// Set `name` in a map value, in place when present, else appended.
fn map_set(map: &mut Value, name: &str, valu: Value) {
    if let Value::Map(items) = map {
        match items.iter_mut().find(|(k, _)| k.as_str() == Some(name)) {
            Some(item) => item.1 = valu,
            None => items.push((Value::from(name), valu)),
        }
    }
}

/// The merge request databases.
pub(crate) struct MergeStore {
    slab: Slab,
    db: Db,
}

impl MergeStore {
    pub(crate) async fn open(slab: &Slab) -> Result<MergeStore> {
        let db = slab
            .initdb("view:meta", DbOptions::default())
            .await
            .map_err(slab_error)?;
        Ok(MergeStore {
            slab: slab.clone(),
            db,
        })
    }

    async fn get(&self, key: &[u8]) -> Result<Option<Value>> {
        let byts = self.slab.get(self.db, key).await.map_err(slab_error)?;
        Ok(byts.and_then(|b| unpackb(&b)))
    }

    async fn put(&self, key: Vec<u8>, valu: &Value) -> Result<()> {
        let byts = packb(valu);
        let db = self.db;
        self.slab
            .write_commit(move |txn| txn.put(db, &key, &byts).map(|_| ()))
            .await
            .map_err(slab_error)
    }

    async fn pop(&self, key: &[u8]) -> Result<Option<Value>> {
        let byts = self.slab.pop(self.db, key).await.map_err(slab_error)?;
        self.slab.commit().await.map_err(slab_error)?;
        Ok(byts.and_then(|b| unpackb(&b)))
    }

    async fn rows(&self, scan: Scan) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.slab
            .scan(self.db, scan)
            .try_collect()
            .await
            .map_err(slab_error)
    }

    /// Delete every key starting with `prefix`.
    async fn del_prefix(&self, prefix: Vec<u8>) -> Result<()> {
        let db = self.db;
        self.slab
            .write_commit(move |txn| {
                let keys: Vec<Vec<u8>> = txn
                    .scan(db, Scan::prefix(&prefix))?
                    .map(|row| row.map(|(k, _)| k.to_vec()))
                    .collect::<std::result::Result<_, _>>()?;
                for key in keys {
                    txn.delete(db, &key, None)?;
                }
                Ok::<_, synapse_slab::Error>(())
            })
            .await
            .map_err(slab_error)
    }
}

/// A quorum as `setViewInfo('quorum', ...)` accepts it (the reference's view schema), else
/// its `SchemaViolation`.
fn check_quorum(quorum: &Value) -> Result<()> {
    let fail = |mesg: String| Err(Error::new(ErrKind::SchemaViolation, mesg));
    let Value::Map(items) = quorum else {
        return fail("data.quorum must be object".into());
    };
    let get = |name: &str| items.iter().find(|(k, _)| k.as_str() == Some(name));
    let missing: Vec<&str> = ["count", "roles"]
        .into_iter()
        .filter(|k| get(k).is_none())
        .collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|k| format!("'{k}'")).collect();
        return fail(format!(
            "data.quorum must contain [{}] properties",
            names.join(", ")
        ));
    }
    if let Some((_, roles)) = get("roles") {
        let Value::Array(roles) = roles else {
            return fail("data.quorum.roles must be array".into());
        };
        for (i, role) in roles.iter().enumerate() {
            let Some(text) = role.as_str() else {
                return fail(format!("data.quorum.roles[{i}] must be string"));
            };
            let iden = text.len() == 32
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !iden {
                return fail(format!(
                    "data.quorum.roles[{i}] must match pattern ^[0-9a-f]{{32}}$"
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        if !roles.iter().all(|r| seen.insert(r.as_str())) {
            return fail("data.quorum.roles must contain unique items".into());
        }
    }
    if let Some((_, count)) = get("count") {
        let count = match count {
            Value::Integer(n) => n.as_f64(),
            Value::F64(f) => Some(*f),
            Value::F32(f) => Some(f64::from(*f)),
            _ => None,
        };
        match count {
            None => return fail("data.quorum.count must be number".into()),
            Some(n) if n < 1.0 => {
                return fail("data.quorum.count must be bigger than or equal to 1".into());
            }
            Some(_) => {}
        }
    }
    let extra: Vec<String> = items
        .iter()
        .filter_map(|(k, _)| k.as_str())
        .filter(|k| *k != "count" && *k != "roles")
        .map(|k| format!("'{k}'"))
        .collect();
    if !extra.is_empty() {
        return fail(format!(
            "data.quorum must not contain {{{}}} properties",
            extra.join(", ")
        ));
    }
    Ok(())
}

impl Cortex {
    fn req_view_def(&self, iden: &str) -> Result<ViewDef> {
        Ok(self.views.req_view(iden).map_err(view_error)?.def())
    }

    /// The quorum of the view's parent, if it has a parent with one.
    pub fn parent_quorum(&self, iden: &str) -> Option<Value> {
        let parent = self.views.view(iden)?.def().parent?;
        self.views.view(&parent)?.def().quorum
    }

    /// The reference's `reqParentQuorum`: the parent's quorum, or `BadState`.
    pub fn req_parent_quorum(&self, iden: &str) -> Result<Value> {
        let def = self.req_view_def(iden)?;
        let Some(parent) = def.parent.and_then(|p| self.views.view(&p)) else {
            return Err(bad_state(format!("View ({iden}) has no parent.")));
        };
        let Some(quorum) = parent.def().quorum else {
            return Err(bad_state(format!(
                "Parent view of ({iden}) does not require quorum voting."
            )));
        };
        if parent.write_layer().is_readonly() {
            return Err(bad_state(format!(
                "Parent view of ({iden}) has a read-only top layer."
            )));
        }
        Ok(quorum)
    }

    /// Set or clear (`Nil`) a view's `quorum`; clearing it deletes its forks' merge requests.
    pub async fn set_view_quorum(&self, iden: &str, quorum: &Value) -> Result<Value> {
        self.req_view_def(iden)?;
        if quorum.is_nil() {
            for kid in self.views.child_views(iden) {
                let kiden = kid.iden();
                if self.merge_request(&kiden).await?.is_some() {
                    self.clear_merge_meta(&kiden).await?;
                }
            }
        } else {
            check_quorum(quorum)?;
        }
        self.views
            .set_view_info(iden, "quorum", quorum)
            .await
            .map_err(view_error)?;
        Ok(quorum.clone())
    }

    /// The view's merge request, if any.
    pub async fn merge_request(&self, iden: &str) -> Result<Option<Value>> {
        self.mergereqs.get(&key(iden, &[b"merge:req"])).await
    }

    /// Create (or replace) a view's merge request by `creator`.
    pub async fn set_merge_request(
        &self,
        iden: &str,
        creator: &str,
        comment: Option<String>,
    ) -> Result<Value> {
        self.req_parent_quorum(iden)?;
        let mut items = vec![(Value::from("creator"), Value::from(creator))];
        if let Some(comment) = comment {
            items.push((Value::from("comment"), Value::from(comment)));
        }
        items.push((Value::from("iden"), Value::from(synapse_base::guid())));
        items.push((Value::from("created"), Value::from(synapse_base::now_ms())));
        let mreq = Value::Map(items);
        self.mergereqs
            .put(key(iden, &[b"merge:req"]), &mreq)
            .await?;
        Ok(mreq)
    }

    /// Change the comment of a view's merge request.
    pub async fn set_merge_comment(&self, iden: &str, comment: &str) -> Result<Value> {
        self.req_parent_quorum(iden)?;
        let Some(mut mreq) = self.merge_request(iden).await? else {
            return Err(bad_state(
                "Cannot set the comment of a merge request that does not exist.",
            ));
        };
        map_set(&mut mreq, "updated", Value::from(synapse_base::now_ms()));
        map_set(&mut mreq, "comment", Value::from(comment));
        self.mergereqs
            .put(key(iden, &[b"merge:req"]), &mreq)
            .await?;
        Ok(mreq)
    }

    /// Delete a view's merge request and its votes; the request, or `Nil`.
    pub async fn del_merge_request(&self, iden: &str) -> Result<Value> {
        self.req_parent_quorum(iden)?;
        let old = self.merge_request(iden).await?;
        self.clear_merge_meta(iden).await?;
        Ok(old.unwrap_or(Value::Nil))
    }

    async fn clear_merge_meta(&self, iden: &str) -> Result<()> {
        self.mergereqs.del_prefix(key(iden, &[b"merge:"])).await
    }

    /// Forget everything stored for a view (its request, votes and merge history).
    pub(crate) async fn wipe_view_meta(&self, iden: &str) -> Result<()> {
        self.mergereqs.del_prefix(bidn(iden)).await
    }

    /// The votes on a view's merge request, by user iden bytes.
    pub async fn merge_votes(&self, iden: &str) -> Result<Vec<Value>> {
        let rows = self
            .mergereqs
            .rows(Scan::prefix(&key(iden, &[b"merge:vote"])))
            .await?;
        Ok(rows.iter().filter_map(|(_, v)| unpackb(v)).collect())
    }

    /// The reference's `reqValidVoter`.
    pub async fn req_valid_voter(&self, iden: &str, user: &str) -> Result<()> {
        let Some(mreq) = self.merge_request(iden).await? else {
            return Err(bad_state(format!(
                "View ({iden}) does not have a merge request."
            )));
        };
        if map_get(&mreq, "creator").and_then(Value::as_str) == Some(user) {
            return Err(Error::new(
                ErrKind::AuthDeny,
                "A user may not vote for their own merge request.",
            ));
        }
        Ok(())
    }

    /// The edit offset votes are cast on: the next offset of the view's write layer's log.
    fn vote_offset(&self, iden: &str) -> Result<u64> {
        let view = self.views.req_view(iden).map_err(view_error)?;
        let layer = view.write_layer();
        Ok(if layer.def().logedits {
            layer.edit_offset()
        } else {
            0
        })
    }

    /// Cast (or replace) `user`'s vote; merges the view when the vote completes the quorum.
    pub async fn set_merge_vote(
        self: &Arc<Self>,
        iden: &str,
        user: &str,
        approved: bool,
        comment: Option<String>,
    ) -> Result<Value> {
        self.req_parent_quorum(iden)?;
        self.req_valid_voter(iden, user).await?;
        let mut items = vec![
            (Value::from("user"), Value::from(user)),
            (Value::from("approved"), Value::from(approved)),
        ];
        if let Some(comment) = comment {
            items.push((Value::from("comment"), Value::from(comment)));
        }
        let tick = synapse_base::now_ms();
        items.push((Value::from("created"), Value::from(tick)));
        items.push((Value::from("offset"), Value::from(self.vote_offset(iden)?)));
        let vote = Value::Map(items);
        self.mergereqs
            .put(key(iden, &[b"merge:vote", &bidn(user)]), &vote)
            .await?;
        self.try_to_merge(iden, tick).await?;
        Ok(vote)
    }

    /// Change the comment of `user`'s vote.
    pub async fn set_merge_vote_comment(
        &self,
        iden: &str,
        user: &str,
        comment: &str,
    ) -> Result<Value> {
        self.req_parent_quorum(iden)?;
        let lkey = key(iden, &[b"merge:vote", &bidn(user)]);
        let Some(mut vote) = self.mergereqs.get(&lkey).await? else {
            return Err(bad_state(
                "Cannot set the comment for a vote that does not exist.",
            ));
        };
        map_set(&mut vote, "updated", Value::from(synapse_base::now_ms()));
        map_set(&mut vote, "comment", Value::from(comment));
        self.mergereqs.put(lkey, &vote).await?;
        Ok(vote)
    }

    /// Delete `user`'s vote (the vote, or `Nil`); the remaining votes may complete the quorum.
    pub async fn del_merge_vote(self: &Arc<Self>, iden: &str, user: &str) -> Result<Value> {
        self.req_parent_quorum(iden)?;
        let vote = self
            .mergereqs
            .pop(&key(iden, &[b"merge:vote", &bidn(user)]))
            .await?;
        self.try_to_merge(iden, synapse_base::now_ms()).await?;
        Ok(vote.unwrap_or(Value::Nil))
    }

    /// The merges into a view, newest first.
    pub async fn merges(&self, iden: &str) -> Result<Vec<Value>> {
        let rows = self
            .mergereqs
            .rows(Scan::prefix(&key(iden, &[b"hist:merge:time"])).back())
            .await?;
        let mut out = Vec::new();
        for (_, mbidn) in rows {
            let lkey = [bidn(iden), b"hist:merge:iden".to_vec(), mbidn].concat();
            if let Some(merge) = self.mergereqs.get(&lkey).await? {
                out.push(merge);
            }
        }
        Ok(out)
    }

    /// The forks of a quorum view that have a merge request.
    pub async fn merging_views(&self, iden: &str) -> Result<Vec<String>> {
        if self.req_view_def(iden)?.quorum.is_none() {
            return Err(bad_state(format!(
                "View ({iden}) does not require quorum voting."
            )));
        }
        let mut out = Vec::new();
        for kid in self.views.child_views(iden) {
            let kiden = kid.iden();
            if self.merge_request(&kiden).await?.is_some() {
                out.push(kiden);
            }
        }
        Ok(out)
    }

    /// `getMergeRequestSummary()`: the request, the parent's quorum, whether the merge runs,
    /// the votes and the current edit offset; `Nil` without a request.
    pub async fn merge_summary(&self, iden: &str) -> Result<Value> {
        let Some(mreq) = self.merge_request(iden).await? else {
            return Ok(Value::Nil);
        };
        let def = self.req_view_def(iden)?;
        Ok(Value::Map(vec![
            (Value::from("merge"), mreq),
            (
                Value::from("quorum"),
                self.parent_quorum(iden).unwrap_or(Value::Nil),
            ),
            (Value::from("merging"), Value::from(def.merging)),
            (
                Value::from("votes"),
                Value::Array(self.merge_votes(iden).await?),
            ),
            (Value::from("offset"), Value::from(self.vote_offset(iden)?)),
        ]))
    }

    /// Whether the votes at the current offset reach the quorum with no disapproval.
    async fn merge_ready(&self, iden: &str) -> Result<bool> {
        let offset = self.vote_offset(iden)?;
        let quorum = self.req_parent_quorum(iden)?;
        let count = match map_get(&quorum, "count") {
            Some(Value::Integer(n)) => n.as_f64().unwrap_or(f64::MAX),
            Some(Value::F64(f)) => *f,
            _ => f64::MAX,
        };
        let mut approvals = 0.0;
        for vote in self.merge_votes(iden).await? {
            if map_get(&vote, "offset").and_then(Value::as_u64) != Some(offset) {
                continue;
            }
            if map_get(&vote, "approved").and_then(Value::as_bool) != Some(true) {
                return Ok(false);
            }
            approvals += 1.0;
        }
        Ok(approvals >= count)
    }

    /// Start the merge of a view whose votes reach its parent's quorum: its write layer turns
    /// read-only, the merge goes into the parent's history, and the merge runs in the
    /// background.
    async fn try_to_merge(self: &Arc<Self>, iden: &str, tick: i64) -> Result<()> {
        let mut def = self.req_view_def(iden)?;
        if def.merging || !self.merge_ready(iden).await? {
            return Ok(());
        }
        let Some(parent) = def.parent.clone() else {
            return Ok(());
        };
        def.merging = true;
        self.views.put_view_def(def).await.map_err(view_error)?;
        let layer = self.views.req_view(iden).map_err(view_error)?.write_layer();
        self.set_layer_info(&layer.iden(), "readonly", &Value::from(true))
            .await?;
        let Some(mut mreq) = self.merge_request(iden).await? else {
            return Ok(());
        };
        map_set(
            &mut mreq,
            "votes",
            Value::Array(self.merge_votes(iden).await?),
        );
        map_set(&mut mreq, "merged", Value::from(tick));
        let mbidn = map_get(&mreq, "iden")
            .and_then(Value::as_str)
            .map(bidn)
            .unwrap_or_default();
        self.mergereqs
            .put(key(&parent, &[b"hist:merge:iden", &mbidn]), &mreq)
            .await?;
        let tkey = key(&parent, &[b"hist:merge:time", &tick.to_be_bytes(), &mbidn]);
        let db = self.mergereqs.db;
        self.mergereqs
            .slab
            .write_commit(move |txn| txn.put(db, &tkey, &mbidn).map(|_| ()))
            .await
            .map_err(slab_error)?;
        self.spawn_view_merge(iden.to_owned());
        Ok(())
    }

    fn spawn_view_merge(self: &Arc<Self>, iden: String) {
        let core = Arc::clone(self);
        let task = async move {
            if let Err(err) = core.run_view_merge(&iden).await {
                tracing::warn!(view = %iden, cause = %err, "error while merging view");
            }
        };
        if self.cell().base().spawn(task).is_err() {
            tracing::warn!("the cortex is shutting down: a view merge waits for the next boot");
        }
    }

    /// Resume the merges that were under way when the Cortex stopped.
    pub(crate) fn start_merges(self: &Arc<Self>) {
        for view in self.views.views() {
            if view.def().merging {
                self.spawn_view_merge(view.iden());
            }
        }
    }

    /// Merge a quorum-approved view into its parent as the request's creator, then delete
    /// the view and its layer.
    async fn run_view_merge(&self, iden: &str) -> Result<()> {
        let view = self.views.req_view(iden).map_err(view_error)?;
        let Some(parent) = view.def().parent.and_then(|p| self.views.view(&p)) else {
            return Ok(());
        };
        let mreq = self.merge_request(iden).await?.unwrap_or(Value::Nil);
        let user = map_get(&mreq, "creator")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut meta = EditMeta::now(user);
        if let Some(miden) = map_get(&mreq, "iden") {
            meta.extra.push(("merge".to_owned(), miden.clone()));
        }
        apply_layer_into(&view, &parent, meta).await?;
        self.del_view_with_layer(iden).await
    }

    /// `view.merge()`: apply the view's write layer to its parent's (the parent's triggers
    /// run) as `user`, after the reference's `mergeAllowed` checks of the views (the caller
    /// checks the user's permissions).
    pub async fn merge_view(&self, iden: &str, user: &str) -> Result<()> {
        let (view, parent) = self.merge_allowed(iden)?;
        apply_layer_into(&view, &parent, EditMeta::now(user)).await
    }

    /// The reference's `mergeAllowed` checks of a view and its parent (not the user's
    /// permissions): the view and its parent.
    pub fn merge_allowed(&self, iden: &str) -> Result<(View, View)> {
        let view = self.views.req_view(iden).map_err(view_error)?;
        let def = view.def();
        let Some(parent) = def.parent.as_deref().and_then(|p| self.views.view(p)) else {
            return Err(Error::named(
                "CantMergeView",
                format!("Cannot merge view ({iden}) that has not been forked."),
            ));
        };
        if def.protected {
            return Err(Error::named(
                "CantMergeView",
                format!("Cannot merge view ({iden}) that has protected set."),
            ));
        }
        if parent.def().quorum.is_some() {
            return Err(Error::named(
                "CantMergeView",
                format!("Cannot merge view({iden}). Parent view requires quorum voting."),
            ));
        }
        let target = parent.write_layer();
        if target.is_readonly() {
            return Err(Error::named(
                "ReadOnlyLayer",
                "May not merge if the parent's write layer is read-only",
            ));
        }
        if !self.views.child_views(iden).is_empty() {
            return Err(Error::named(
                "CantMergeView",
                "Cannot merge a view that has children itself",
            ));
        }
        Ok((view, parent))
    }

    /// Delete a view and its write layer (the reference's `delViewWithLayer`), their auth
    /// gates, the view's triggers and merge records.
    pub async fn del_view_with_layer(&self, iden: &str) -> Result<()> {
        let layer = self
            .views
            .del_view_with_layer(iden)
            .await
            .map_err(view_error)?;
        self.del_view_triggers(iden).await?;
        self.wipe_view_meta(iden).await?;
        let auth = self.cell.auth();
        if auth.gate(iden).is_some() {
            auth.del_auth_gate(iden).await?;
        }
        if let Some(layer) = layer
            && auth.gate(&layer).is_some()
        {
            auth.del_auth_gate(&layer).await?;
        }
        Ok(())
    }

    /// `detach()`: the view forgets its parent (keeping its layers) and its merge request.
    pub async fn detach_view(&self, iden: &str) -> Result<()> {
        if self.req_view_def(iden)?.parent.is_none() {
            return Err(Error::bad_arg("A view with no parent is already detached."));
        }
        self.clear_merge_meta(iden).await?;
        self.views
            .set_view_parent(iden, None)
            .await
            .map_err(view_error)?;
        Ok(())
    }

    fn req_not_merging(&self, def: &ViewDef) -> Result<()> {
        if def.merging {
            return Err(bad_state(format!(
                "View ({}) is currently merging, cannot insert a new fork.",
                def.iden
            )));
        }
        Ok(())
    }

    /// A new layer and a view over it (with `def.layers` below it), both gated with `user`
    /// as admin.
    async fn add_fork(&self, user: &str, mut def: ViewDef) -> Result<View> {
        let layer = self.add_layer(user, None, false, None).await?;
        def.layers.insert(0, layer.iden());
        let view = self.views.add_view(def).await.map_err(view_error)?;
        let auth = self.cell.auth();
        auth.add_auth_gate(&view.iden(), "view").await?;
        auth.set_user_admin(user, true, Some(&view.iden())).await?;
        Ok(view)
    }

    /// Copy the user and role rules (and user admin) of one auth gate to another.
    async fn copy_gate_perms(&self, src: &str, dst: &str) -> Result<()> {
        let auth = self.cell.auth();
        let Some(gate) = auth.gate(src) else {
            return Ok(());
        };
        for (user, entry) in &gate.users {
            if auth.user(user).is_none() {
                continue;
            }
            auth.set_user_rules(user, entry.rules().to_vec(), Some(dst))
                .await?;
            if entry.is_admin() {
                auth.set_user_admin(user, true, Some(dst)).await?;
            }
        }
        for (role, entry) in &gate.roles {
            if auth.role(role).is_none() {
                continue;
            }
            auth.set_role_rules(role, entry.rules().to_vec(), Some(dst))
                .await?;
        }
        Ok(())
    }

    /// `insertParentFork()`: a new fork of the view's parent becomes the view's parent.
    pub async fn insert_parent_fork(
        &self,
        iden: &str,
        user: &str,
        name: Option<String>,
    ) -> Result<View> {
        let def = self.req_view_def(iden)?;
        let Some(parent) = def.parent.as_deref().and_then(|p| self.views.view(p)) else {
            return Err(bad_state(format!(
                "View ({iden}) is not a fork, cannot insert a new fork between it and parent."
            )));
        };
        self.req_not_merging(&def)?;
        let pdef = parent.def();
        let name = name.unwrap_or_else(|| match &pdef.name {
            Some(pname) => format!("inserted fork of {pname}"),
            None => format!("inserted fork of {}", pdef.iden),
        });
        let fork = self
            .add_fork(
                user,
                ViewDef {
                    iden: synapse_base::guid(),
                    name: Some(name),
                    created: synapse_base::now_ms(),
                    creator: user.to_owned(),
                    parent: Some(pdef.iden.clone()),
                    layers: pdef.layers.clone(),
                    protected: false,
                    quorum: None,
                    merging: false,
                },
            )
            .await?;
        if self.merge_request(iden).await?.is_some() {
            self.clear_merge_meta(iden).await?;
        }
        self.views
            .set_view_parent(iden, Some(&fork.iden()))
            .await
            .map_err(view_error)?;
        self.copy_gate_perms(iden, &fork.iden()).await?;
        Ok(fork)
    }

    /// `insertChildFork()`: a new fork of the view becomes the parent of the view's forks
    /// (those not merging), with the view's quorum.
    pub async fn insert_child_fork(
        &self,
        iden: &str,
        user: &str,
        name: Option<String>,
    ) -> Result<View> {
        let def = self.req_view_def(iden)?;
        self.req_not_merging(&def)?;
        let name = name.unwrap_or_else(|| match &def.name {
            Some(vname) => format!("inserted fork of {vname}"),
            None => format!("inserted fork of {iden}"),
        });
        let kids: Vec<String> = self
            .views
            .child_views(iden)
            .into_iter()
            .filter(|k| !k.def().merging)
            .map(|k| k.iden())
            .collect();
        let fork = self
            .add_fork(
                user,
                ViewDef {
                    iden: synapse_base::guid(),
                    name: Some(name),
                    created: synapse_base::now_ms(),
                    creator: user.to_owned(),
                    parent: Some(iden.to_owned()),
                    layers: def.layers.clone(),
                    protected: false,
                    quorum: def.quorum.clone(),
                    merging: false,
                },
            )
            .await?;
        let fiden = fork.iden();
        for kid in kids {
            let mut kdef = self.req_view_def(&kid)?;
            kdef.parent = Some(fiden.clone());
            self.views.put_view_def(kdef).await.map_err(view_error)?;
        }
        self.views
            .relayer_children(&fiden)
            .await
            .map_err(view_error)?;
        self.copy_gate_perms(iden, &fiden).await?;
        if let Some(layer) = def.layers.first() {
            self.copy_gate_perms(layer, &fork.write_layer().iden())
                .await?;
        }
        Ok(fork)
    }

    /// `swapLayer()`: a new empty layer like the view's write layer (same settings, same
    /// permissions) replaces it in every view, and the old layer is deleted.
    pub async fn swap_write_layer(&self, iden: &str) -> Result<()> {
        let view = self.views.req_view(iden).map_err(view_error)?;
        let old = view.write_layer();
        let odef = old.def();
        let mut ndef = LayerDef::new(odef.creator.clone());
        ndef.name = odef.name.clone();
        ndef.logedits = odef.logedits;
        ndef.readonly = odef.readonly;
        let new = self.views.add_layer(ndef).await.map_err(view_error)?;
        let auth = self.cell.auth();
        auth.add_auth_gate(&new.iden(), "layer").await?;
        if auth.user(&odef.creator).is_some() {
            auth.set_user_admin(&odef.creator, true, Some(&new.iden()))
                .await?;
        }
        if let Some(gate) = auth.gate(&old.iden()) {
            for (user, entry) in &gate.users {
                if auth.user(user).is_none() {
                    continue;
                }
                if entry.is_admin() {
                    auth.set_user_admin(user, true, Some(&new.iden())).await?;
                }
                for rule in entry.rules() {
                    auth.add_user_rule(user, rule.clone(), None, Some(&new.iden()))
                        .await?;
                }
            }
            for (role, entry) in &gate.roles {
                if auth.role(role).is_none() {
                    continue;
                }
                for rule in entry.rules() {
                    let rule: Rule = rule.clone();
                    auth.add_role_rule(role, rule, None, Some(&new.iden()))
                        .await?;
                }
            }
        }
        self.views
            .swap_layer(&old.iden(), &new.iden())
            .await
            .map_err(view_error)?;
        self.del_layer(&old.iden()).await
    }
}

/// Replay `view`'s write layer into `parent` as nodeedits, in small batches (the parent's
/// triggers run).
async fn apply_layer_into(view: &View, parent: &View, meta: EditMeta) -> Result<()> {
    let mut edits = view.write_layer().node_edits();
    let mut batch: Vec<NodeEdit> = Vec::new();
    loop {
        let next = edits
            .try_next()
            .await
            .map_err(|e| view_error(crate::view::Error::from(e)))?;
        let done = next.is_none();
        if let Some(edit) = next {
            batch.push(edit);
        }
        if batch.len() >= MERGE_CHUNK || (done && !batch.is_empty()) {
            let mut meta = meta.clone();
            meta.time = synapse_base::now_ms();
            parent
                .apply_edits(std::mem::take(&mut batch), meta)
                .await
                .map_err(view_error)?;
        }
        if done {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_checks_match_the_schema() {
        let roles = Value::Array(vec![Value::from("a".repeat(32))]);
        let ok = Value::Map(vec![
            (Value::from("count"), Value::from(1)),
            (Value::from("roles"), roles.clone()),
        ]);
        assert!(check_quorum(&ok).is_ok());
        let zero = Value::Map(vec![
            (Value::from("count"), Value::from(0)),
            (Value::from("roles"), roles),
        ]);
        let err = check_quorum(&zero).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("must be bigger than or equal to 1")),
            "{err:?}"
        );
        assert!(check_quorum(&Value::from(1)).is_err());
    }

    #[test]
    fn map_set_keeps_the_place_of_existing_keys() {
        let mut map = Value::Map(vec![
            (Value::from("a"), Value::from(1)),
            (Value::from("b"), Value::from(2)),
        ]);
        map_set(&mut map, "a", Value::from(3));
        map_set(&mut map, "c", Value::from(4));
        assert_eq!(
            map,
            Value::Map(vec![
                (Value::from("a"), Value::from(3)),
                (Value::from("b"), Value::from(2)),
                (Value::from("c"), Value::from(4)),
            ])
        );
    }
}
