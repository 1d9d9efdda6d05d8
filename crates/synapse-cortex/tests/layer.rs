//! Storage tests: layers, views, the editor, packed nodes, crash safety.

#![allow(clippy::unwrap_used)]

mod layer {
    mod basic;
    mod crash;
    mod editor;
    mod nodes;
    mod views;
    mod reference;
    mod util;
}
