//! Lifts through a view: each layer scans the same compiled plan; rows are merge-sorted by
//! index key (then buid), grouped by node, filtered where a higher layer overrides the value,
//! and joined into nodes in batches.

use std::collections::VecDeque;

use futures::stream::{self, StreamExt};

use crate::layer::{Layer, LiftPlan, Resume, Row, Shadow, Sode};
use crate::node::Node;
use crate::nodeedit::{Buid, BuidMap};
use crate::view::{Error, NodeStream, View};

/// Rows fetched per layer per read.
const ROWS_PER_READ: usize = 256;
/// Rows merged per batch of nodes.
const ROWS_PER_BATCH: usize = 256;

struct Cursor {
    layer: Layer,
    buf: VecDeque<Row>,
    resume: Resume,
    done: bool,
}

struct LiftState {
    view: View,
    layers: Vec<Layer>,
    plan: LiftPlan,
    scan_idx: usize,
    cursors: Vec<Cursor>,
    out: VecDeque<Node>,
    back: bool,
    /// Storage nodes read with the rows (single-layer views: one read per batch).
    sodes: BuidMap<Sode>,
}

impl LiftState {
    fn reset_cursors(&mut self) {
        self.cursors = self
            .layers
            .iter()
            .map(|layer| Cursor {
                layer: layer.clone(),
                buf: VecDeque::new(),
                resume: None,
                done: false,
            })
            .collect();
    }

    /// The cursor holding the next row in scan order (ties: top layer first).
    fn next_cursor(&self) -> Option<usize> {
        let mut best: Option<(usize, &Row)> = None;
        for (idx, cursor) in self.cursors.iter().enumerate() {
            let Some(row) = cursor.buf.front() else {
                continue;
            };
            let better = match best {
                None => true,
                Some((_, cur)) => {
                    let ord = (&row.key, &row.buid).cmp(&(&cur.key, &cur.buid));
                    if self.back { ord.is_gt() } else { ord.is_lt() }
                }
            };
            if better {
                best = Some((idx, row));
            }
        }
        best.map(|(idx, _)| idx)
    }

    /// Whether more rows of the last node may follow (only in multi-layer views at a batch
    /// boundary; the caller refills and checks again).
    fn is_tail_open(&self, rows: &[(Row, usize)]) -> bool {
        rows.len() >= ROWS_PER_BATCH && self.layers.len() > 1
    }

    async fn fill(&mut self) -> Result<(), Error> {
        let single = self.layers.len() == 1;
        for cursor in &mut self.cursors {
            if cursor.buf.is_empty() && !cursor.done && single {
                let (rows, resume, done, sodes) = cursor
                    .layer
                    .scan_rows_sodes(
                        &self.plan,
                        self.scan_idx,
                        cursor.resume.take(),
                        ROWS_PER_READ,
                    )
                    .await?;
                cursor.buf.extend(rows);
                cursor.resume = resume;
                cursor.done = done;
                self.sodes.extend(sodes);
            } else if cursor.buf.is_empty() && !cursor.done {
                let (rows, resume, done) = cursor
                    .layer
                    .scan_rows(
                        &self.plan,
                        self.scan_idx,
                        cursor.resume.take(),
                        ROWS_PER_READ,
                    )
                    .await?;
                cursor.buf.extend(rows);
                cursor.resume = resume;
                cursor.done = done;
            }
        }
        Ok(())
    }

    /// Produce the next batch of nodes into `out`; false when the lift is exhausted.
    async fn step(&mut self) -> Result<bool, Error> {
        loop {
            if self.scan_idx >= self.plan.scans.len() {
                return Ok(false);
            }
            self.fill().await?;
            if self.cursors.iter().all(|c| c.buf.is_empty() && c.done) {
                self.scan_idx += 1;
                self.reset_cursors();
                continue;
            }
            // Merge rows while every unfinished layer has rows buffered, then finish the group
            // of the last node (its rows from other layers may still be unread).
            let mut rows: Vec<(Row, usize)> = Vec::new();
            loop {
                if self.cursors.iter().any(|c| c.buf.is_empty() && !c.done) {
                    if rows.len() < ROWS_PER_BATCH && !self.is_tail_open(&rows) {
                        break;
                    }
                    self.fill().await?;
                    continue;
                }
                let Some(idx) = self.next_cursor() else {
                    break;
                };
                let same = match (rows.last(), self.cursors[idx].buf.front()) {
                    (Some((last, _)), Some(next)) => last.buid == next.buid,
                    _ => false,
                };
                if rows.len() >= ROWS_PER_BATCH && !same {
                    break;
                }
                if let Some(row) = self.cursors[idx].buf.pop_front() {
                    rows.push((row, idx));
                }
            }
            if rows.is_empty() {
                continue;
            }
            self.build(rows).await?;
            return Ok(true);
        }
    }

    async fn build(&mut self, rows: Vec<(Row, usize)>) -> Result<(), Error> {
        let single = self.layers.len() == 1;
        // Group consecutive rows of one node from different layers (multi-layer views only,
        // as the reference); the group's highest layer decides about shadowing.
        let mut groups: Vec<(Buid, usize, Vec<usize>)> = Vec::new();
        for (row, layer_idx) in rows {
            if !single
                && let Some((buid, top, seen)) = groups.last_mut()
                && *buid == row.buid
                && !seen.contains(&layer_idx)
            {
                *top = (*top).min(layer_idx);
                seen.push(layer_idx);
                continue;
            }
            groups.push((row.buid, layer_idx, vec![layer_idx]));
        }
        let groups: Vec<(Buid, usize)> = groups.into_iter().map(|(b, top, _)| (b, top)).collect();
        let mut buids: Vec<Buid> = groups.iter().map(|(b, _)| *b).collect();
        buids.sort_unstable();
        buids.dedup();
        let sodes = if single {
            // The rows' storage nodes came with them; a row without one is a node gone.
            buids
                .iter()
                .map(|buid| vec![self.sodes.remove(buid)])
                .collect()
        } else {
            self.view.sodes_of(&self.layers, &buids).await?
        };
        for (buid, layer_idx) in groups {
            let Ok(pos) = buids.binary_search(&buid) else {
                continue;
            };
            let stack = &sodes[pos];
            if !matches!(self.plan.shadow, Shadow::None) {
                let hidden = stack[..layer_idx]
                    .iter()
                    .flatten()
                    .any(|sode| self.plan.shadow.hides(sode));
                if hidden {
                    continue;
                }
            }
            let Some(mut node) = Node::join(buid, stack) else {
                continue;
            };
            if let Some(name) = &self.plan.data
                && let Some(valu) = self.layers[layer_idx].get_data(buid, name).await?
            {
                node.nodedata.push((name.clone(), valu));
            }
            self.out.push_back(node);
        }
        Ok(())
    }
}

/// Stream the nodes of a compiled lift.
pub(crate) fn lift_stream(view: View, plan: LiftPlan, back: bool) -> NodeStream {
    let layers = view.layers();
    let mut state = LiftState {
        view,
        layers,
        plan,
        scan_idx: 0,
        cursors: Vec::new(),
        out: VecDeque::new(),
        back,
        sodes: BuidMap::default(),
    };
    state.reset_cursors();
    stream::try_unfold(state, |mut state| async move {
        loop {
            if let Some(node) = state.out.pop_front() {
                return Ok(Some((node, state)));
            }
            if !state.step().await? {
                return Ok(None);
            }
        }
    })
    .boxed()
}
