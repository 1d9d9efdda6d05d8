//! The Cortex's own records, in `slabs/cortex.lmdb`: runtime tag properties, the extended
//! model (forms, form props and universal props added at runtime), Storm globals and boot
//! flags.

use std::path::Path;

use rmpv::Value;
use synapse_cell::{Error, Result};
use synapse_slab::{Db, DbOptions, Scan, Slab, SlabOptions};

use crate::nodeedit::{packb, unpackb};

fn slab_error(err: synapse_slab::Error) -> Error {
    Error::storage(err.to_string()).with_source(err)
}

fn bad_row(what: &str) -> Error {
    Error::storage(format!("bad {what} row in cortex.lmdb"))
}

/// The Cortex slab and its databases.
pub(crate) struct CoreStore {
    slab: Slab,
    tagprops: Db,
    extmodel: Db,
    vars: Db,
    meta: Db,
}

impl CoreStore {
    pub(crate) async fn open(dirn: &Path) -> Result<CoreStore> {
        let slabdir = dirn.join("slabs");
        std::fs::create_dir_all(&slabdir)
            .map_err(|err| Error::io("cannot create", &slabdir, err))?;
        let slab = Slab::open(slabdir.join("cortex.lmdb"), SlabOptions::default())
            .await
            .map_err(slab_error)?;
        let plain = DbOptions::default();
        let tagprops = slab
            .initdb("model:tagprops", plain)
            .await
            .map_err(slab_error)?;
        let extmodel = slab.initdb("model:ext", plain).await.map_err(slab_error)?;
        let vars = slab.initdb("storm:vars", plain).await.map_err(slab_error)?;
        let meta = slab.initdb("meta", plain).await.map_err(slab_error)?;
        Ok(CoreStore {
            slab,
            tagprops,
            extmodel,
            vars,
            meta,
        })
    }

    async fn put(&self, db: Db, key: &str, valu: &Value) -> Result<()> {
        let key = key.as_bytes().to_vec();
        let byts = packb(valu);
        self.slab
            .write_commit(move |txn| txn.put(db, &key, &byts).map(|_| ()))
            .await
            .map_err(slab_error)
    }

    async fn pop(&self, db: Db, key: &str) -> Result<Option<Value>> {
        let key = key.as_bytes().to_vec();
        let old = self
            .slab
            .write_commit(move |txn| {
                let old = txn.get(db, &key)?.map(<[u8]>::to_vec);
                if old.is_some() {
                    txn.delete(db, &key, None)?;
                }
                Ok::<_, synapse_slab::Error>(old)
            })
            .await
            .map_err(slab_error)?;
        old.map(|byts| unpackb(&byts).ok_or_else(|| bad_row("value")))
            .transpose()
    }

    async fn rows(&self, db: Db) -> Result<Vec<(String, Value)>> {
        let rows = self
            .slab
            .snapshot(move |txn| {
                let mut out = Vec::new();
                for row in txn.scan(db, Scan::full())? {
                    let (key, val) = row?;
                    out.push((key.to_vec(), val.to_vec()));
                }
                Ok::<_, synapse_slab::Error>(out)
            })
            .await
            .map_err(slab_error)?;
        rows.into_iter()
            .map(|(key, val)| {
                let key = String::from_utf8(key).map_err(|_| bad_row("key"))?;
                let val = unpackb(&val).ok_or_else(|| bad_row("value"))?;
                Ok((key, val))
            })
            .collect()
    }

    // ----- tag props -----

    /// Every runtime tag property: `(name, tdef, info)` as JSON.
    pub(crate) async fn tagprops(
        &self,
    ) -> Result<Vec<(String, serde_json::Value, serde_json::Value)>> {
        let mut out = Vec::new();
        for (name, valu) in self.rows(self.tagprops).await? {
            let parts = valu.as_array().cloned().unwrap_or_default();
            let tdef = parts.get(1).map(synapse_cell::to_json).unwrap_or_default();
            let info = parts.get(2).map(synapse_cell::to_json).unwrap_or_default();
            out.push((name, tdef, info));
        }
        Ok(out)
    }

    pub(crate) async fn put_tagprop(&self, name: &str, tdef: &Value, info: &Value) -> Result<()> {
        let row = Value::Array(vec![Value::from(name), tdef.clone(), info.clone()]);
        self.put(self.tagprops, name, &row).await
    }

    pub(crate) async fn has_tagprop(&self, name: &str) -> Result<bool> {
        self.slab
            .has(self.tagprops, name.as_bytes())
            .await
            .map_err(slab_error)
    }

    pub(crate) async fn del_tagprop(&self, name: &str) -> Result<()> {
        self.pop(self.tagprops, name).await.map(|_| ())
    }

    // ----- extended model -----

    /// Every extended model row: key (`form:<name>`, `prop:<form>:<prop>`, `univ:<name>`)
    /// and the declaration as given, in key order.
    pub(crate) async fn ext_rows(&self) -> Result<Vec<(String, Value)>> {
        self.rows(self.extmodel).await
    }

    pub(crate) async fn put_ext(&self, key: &str, decl: &Value) -> Result<()> {
        self.put(self.extmodel, key, decl).await
    }

    pub(crate) async fn del_ext(&self, key: &str) -> Result<()> {
        self.pop(self.extmodel, key).await.map(|_| ())
    }

    // ----- storm globals -----

    pub(crate) async fn get_var(&self, name: &str) -> Result<Option<Value>> {
        let byts = self
            .slab
            .get(self.vars, name.as_bytes())
            .await
            .map_err(slab_error)?;
        byts.map(|byts| unpackb(&byts).ok_or_else(|| bad_row("storm var")))
            .transpose()
    }

    pub(crate) async fn set_var(&self, name: &str, valu: &Value) -> Result<()> {
        self.put(self.vars, name, valu).await
    }

    pub(crate) async fn pop_var(&self, name: &str) -> Result<Option<Value>> {
        self.pop(self.vars, name).await
    }

    pub(crate) async fn vars(&self) -> Result<Vec<(String, Value)>> {
        self.rows(self.vars).await
    }

    /// The slab (other Cortex records open their databases in it).
    pub(crate) fn slab(&self) -> &Slab {
        &self.slab
    }

    // ----- flags -----

    pub(crate) async fn meta_flag(&self, name: &str) -> Result<bool> {
        self.slab
            .has(self.meta, name.as_bytes())
            .await
            .map_err(slab_error)
    }

    pub(crate) async fn set_meta_flag(&self, name: &str) -> Result<()> {
        self.put(self.meta, name, &Value::Boolean(true)).await
    }

    pub(crate) async fn fini(&self) {
        self.slab.fini().await;
    }
}
