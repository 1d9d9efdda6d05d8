//! Rearranging views: replacing a view's definition (its parent and layers), recomputing the
//! layer stacks of forks, swapping a layer in every view and deleting a view with its write
//! layer (the reference's `delViewWithLayer`).

use std::collections::HashSet;

use super::{Error, Stack, View, ViewDef, Views, poisoned};

impl Views {
    fn stack_of(&self, idens: &[String]) -> Result<Stack, Error> {
        let mut layers = Vec::with_capacity(idens.len());
        for iden in idens {
            layers.push(
                self.layer(iden)
                    .ok_or_else(|| Error::NoSuchLayer(iden.clone()))?,
            );
        }
        let mut layers = layers.into_iter();
        let top = layers
            .next()
            .ok_or_else(|| Error::BadArg("a view needs at least one layer".into()))?;
        Ok(Stack {
            top,
            below: layers.collect(),
        })
    }

    /// Replace the definition of an existing view (persisted), rebuilding its layer stack
    /// from `def.layers`.
    pub async fn put_view_def(&self, def: ViewDef) -> Result<View, Error> {
        let view = self.req_view(&def.iden)?;
        let stack = self.stack_of(&def.layers)?;
        *view.inner.def.write().unwrap_or_else(poisoned) = def.clone();
        *view.inner.stack.write().unwrap_or_else(poisoned) = stack;
        self.put_def(self.inner.viewdefs, def.iden.clone(), def.to_value(None))
            .await?;
        Ok(view)
    }

    /// The views whose parent is `iden`.
    pub fn child_views(&self, iden: &str) -> Vec<View> {
        self.children(iden)
    }

    /// Whether `iden` descends from `ancestor` (the reference's `isForkOf`).
    pub fn is_fork_of(&self, iden: &str, ancestor: &str) -> bool {
        let mut seen = HashSet::new();
        let mut cur = self.view(iden).and_then(|v| v.def().parent);
        while let Some(parent) = cur {
            if parent == ancestor {
                return true;
            }
            if !seen.insert(parent.clone()) {
                return false;
            }
            cur = self.view(&parent).and_then(|v| v.def().parent);
        }
        false
    }

    /// Recompute the layers of every descendant of `iden`: a fork holds its own write layer
    /// over its parent's layers.
    pub async fn relayer_children(&self, iden: &str) -> Result<(), Error> {
        let mut todo = vec![self.req_view(iden)?];
        while let Some(view) = todo.pop() {
            let layers = view.def().layers;
            for child in self.children(&view.iden()) {
                let mut def = child.def();
                let top = def.layers.first().cloned().unwrap_or_default();
                def.layers = std::iter::once(top).chain(layers.iter().cloned()).collect();
                todo.push(self.put_view_def(def).await?);
            }
        }
        Ok(())
    }

    /// Make `parent` the parent of view `iden` (or detach it with `None`, keeping its
    /// layers); with a parent, the view's layers become its write layer over the parent's,
    /// and its descendants follow.
    pub async fn set_view_parent(&self, iden: &str, parent: Option<&str>) -> Result<View, Error> {
        let view = self.req_view(iden)?;
        let mut def = view.def();
        match parent {
            None => {
                def.parent = None;
                self.put_view_def(def).await
            }
            Some(pare) => {
                let layers = self.req_view(pare)?.def().layers;
                let top = def.layers.first().cloned().unwrap_or_default();
                def.parent = Some(pare.to_owned());
                def.layers = std::iter::once(top).chain(layers).collect();
                let view = self.put_view_def(def).await?;
                self.relayer_children(iden).await?;
                Ok(view)
            }
        }
    }

    /// Put layer `new` in place of layer `old` in every view that holds it.
    pub async fn swap_layer(&self, old: &str, new: &str) -> Result<(), Error> {
        self.layer(old)
            .ok_or_else(|| Error::NoSuchLayer(old.to_owned()))?;
        self.layer(new)
            .ok_or_else(|| Error::NoSuchLayer(new.to_owned()))?;
        for view in self.views() {
            let mut def = view.def();
            if !def.layers.iter().any(|l| l == old) {
                continue;
            }
            for layer in &mut def.layers {
                if layer == old {
                    *layer = new.to_owned();
                }
            }
            self.put_view_def(def).await?;
        }
        Ok(())
    }

    /// Delete a view and its write layer. The view's descendants lose the layer from their
    /// stacks, its children get its parent as theirs; the layer itself is deleted unless a
    /// view outside the descendants still uses it. Returns the deleted layer's iden.
    pub async fn del_view_with_layer(&self, iden: &str) -> Result<Option<String>, Error> {
        let _guard = self.inner.edit_lock.lock().await;
        let view = self.req_view(iden)?;
        let def = view.def();
        if def.protected {
            return Err(Error::CantDelView(format!(
                "Cannot delete view ({iden}) that has protected set."
            )));
        }
        if *self.inner.default.read().unwrap_or_else(poisoned) == iden {
            return Err(Error::SynErr("Cannot delete the main view".into()));
        }
        let layer = view.write_layer().iden();
        let forks: Vec<View> = self
            .views()
            .into_iter()
            .filter(|v| self.is_fork_of(&v.iden(), iden))
            .collect();
        self.del_def(self.inner.viewdefs, iden.to_owned()).await?;
        self.inner
            .views
            .write()
            .unwrap_or_else(poisoned)
            .remove(iden);
        let fork_idens: HashSet<String> = forks.iter().map(View::iden).collect();
        let mut in_use = false;
        for other in self.views() {
            let mut odef = other.def();
            if !odef.layers.contains(&layer) {
                continue;
            }
            if !fork_idens.contains(&odef.iden) {
                in_use = true;
                continue;
            }
            odef.layers.retain(|l| *l != layer);
            if odef.parent.as_deref() == Some(iden) {
                odef.parent = def.parent.clone();
            }
            self.put_view_def(odef).await?;
        }
        // children whose layers did not hold the write layer still get the new parent
        for fork in &forks {
            let mut fdef = fork.def();
            if fdef.parent.as_deref() == Some(iden) {
                fdef.parent = def.parent.clone();
                self.put_view_def(fdef).await?;
            }
        }
        if in_use {
            return Ok(None);
        }
        let Some(layr) = self.layer(&layer) else {
            return Ok(None);
        };
        self.del_def(self.inner.layerdefs, layer.clone()).await?;
        self.inner
            .layers
            .write()
            .unwrap_or_else(poisoned)
            .remove(&layer);
        layr.trash().await?;
        Ok(Some(layer))
    }
}
